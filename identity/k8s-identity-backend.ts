/**
 * {@link IdentityBackend} over @kubernetes/client-node 2.x `CustomObjectsApi`
 * (cilium.io/v2 ciliumidentities, cluster-scoped). The only identity/ file that imports the client.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { CreateResult, DeleteResult, IdentityBackend, ReplaceResult } from './backend.ts';
import type { CiliumIdentityObject } from './ciliumidentity.ts';

const RESOURCE = { group: 'cilium.io', version: 'v2', plural: 'ciliumidentities' } as const;

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** CiliumIdentity CRUD through a CustomObjectsApi client. */
export class K8sIdentityBackend implements IdentityBackend {
  constructor(private readonly api: CustomObjectsApi) {}

  async create(object: CiliumIdentityObject): Promise<CreateResult> {
    try {
      const created = (await this.api.createClusterCustomObject({ ...RESOURCE, body: object })) as CiliumIdentityObject;
      return { status: 'created', object: created };
    } catch (err) {
      if (statusCode(err) === 409) return { status: 'exists' };
      throw err;
    }
  }

  async get(name: string): Promise<CiliumIdentityObject | undefined> {
    try {
      return (await this.api.getClusterCustomObject({ ...RESOURCE, name })) as CiliumIdentityObject;
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async list(): Promise<CiliumIdentityObject[]> {
    const out = (await this.api.listClusterCustomObject({ ...RESOURCE })) as { items?: CiliumIdentityObject[] };
    return out.items ?? [];
  }

  async replace(object: CiliumIdentityObject): Promise<ReplaceResult> {
    try {
      const replaced = (await this.api.replaceClusterCustomObject({
        ...RESOURCE, name: object.metadata.name, body: object,
      })) as CiliumIdentityObject;
      return { status: 'replaced', object: replaced };
    } catch (err) {
      if (statusCode(err) === 409) return { status: 'conflict' };
      if (statusCode(err) === 404) return { status: 'not-found' };
      throw err;
    }
  }

  async delete(name: string, resourceVersion?: string): Promise<DeleteResult> {
    try {
      await this.api.deleteClusterCustomObject({
        ...RESOURCE, name, body: resourceVersion ? { preconditions: { resourceVersion } } : {},
      });
      return 'deleted';
    } catch (err) {
      if (statusCode(err) === 409) return 'conflict';
      if (statusCode(err) === 404) return 'not-found';
      throw err;
    }
  }
}
