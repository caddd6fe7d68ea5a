/**
 * {@link IdentityBackend} over the API server's JSON (cilium.io/v2 ciliumidentities, cluster-scoped),
 * sent through a {@link KubeRequester}: plain objects both ways, no generated client classes.
 */
import { statusCodeOf } from '../runtime/api-errors.ts';
import type { KubeRequester } from '../runtime/kube-request.ts';
import type { CreateResult, DeleteResult, IdentityBackend, ReplaceResult } from './backend.ts';
import type { CiliumIdentityObject } from './ciliumidentity.ts';

/** The collection's path. */
export const CILIUM_IDENTITIES_PATH = '/apis/cilium.io/v2/ciliumidentities';

/** CiliumIdentity CRUD through raw API requests. */
export class K8sIdentityBackend implements IdentityBackend {
  constructor(private readonly request: KubeRequester) {}

  async create(object: CiliumIdentityObject): Promise<CreateResult> {
    try {
      const created = (await this.request({ method: 'POST', path: CILIUM_IDENTITIES_PATH, body: object })) as CiliumIdentityObject;
      return { status: 'created', object: created };
    } catch (err) {
      if (statusCodeOf(err) === 409) return { status: 'exists' };
      throw err;
    }
  }

  async get(name: string): Promise<CiliumIdentityObject | undefined> {
    try {
      return (await this.request({ method: 'GET', path: itemPath(name) })) as CiliumIdentityObject;
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw err;
    }
  }

  async list(): Promise<CiliumIdentityObject[]> {
    const out = (await this.request({ method: 'GET', path: CILIUM_IDENTITIES_PATH })) as { items?: CiliumIdentityObject[] };
    return out.items ?? [];
  }

  async replace(object: CiliumIdentityObject): Promise<ReplaceResult> {
    try {
      const replaced = (await this.request({ method: 'PUT', path: itemPath(object.metadata.name), body: object })) as CiliumIdentityObject;
      return { status: 'replaced', object: replaced };
    } catch (err) {
      if (statusCodeOf(err) === 409) return { status: 'conflict' };
      if (statusCodeOf(err) === 404) return { status: 'not-found' };
      throw err;
    }
  }

  async delete(name: string, resourceVersion?: string): Promise<DeleteResult> {
    try {
      await this.request({ method: 'DELETE', path: itemPath(name), body: resourceVersion ? { preconditions: { resourceVersion } } : {} });
      return 'deleted';
    } catch (err) {
      if (statusCodeOf(err) === 409) return 'conflict';
      if (statusCodeOf(err) === 404) return 'not-found';
      throw err;
    }
  }
}

/** One identity's path. */
function itemPath(name: string): string {
  return `${CILIUM_IDENTITIES_PATH}/${encodeURIComponent(name)}`;
}
