/**
 * Where parsed policies and CiliumCIDRGroups enter the node: the policy engine, the node-local CIDR
 * identities their CIDR peers need, and the ipcache rows of those prefixes, changed in an order
 * that never lets traffic through that the old or the new state denies:
 *   1. new CIDR identities join the selector cache (rules already selecting them, e.g. `world`,
 *      give them entries at once), and the endpoints' maps get those entries;
 *   2. the policy itself is applied (its allow and deny entries reach the maps);
 *   3. only then do the prefixes point at their identities in the ipcache;
 *   4. prefixes nobody names any more leave the ipcache (their addresses fall back to a shorter
 *      prefix or to world), and their identities leave the selector cache.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { PolicyKind } from '../policy/api/model.ts';
import type { PolicyParseResult } from '../policy/api/parse-cilium-policy.ts';
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import { policyKey } from '../policy/repository.ts';
import { CidrIdentities, cidrUseOf, type CidrGroup, type CidrIdentityChange } from './cidr-identities.ts';
import type { IpcacheSync } from './ipcache-sync.ts';

/** Feeds policies and CIDR groups into the engine, the CIDR identities and the ipcache. */
export class PolicyFeed {
  readonly cidrs: CidrIdentities;

  constructor(
    readonly engine: PolicyEngine,
    readonly ipcache: IpcacheSync,
    readonly apply: (diffs: EndpointDiffs) => void,
    cidrs = new CidrIdentities(),
  ) {
    this.cidrs = cidrs;
  }

  /** Adds or replaces a valid parsed policy. */
  upsertPolicy(parsed: PolicyParseResult): void {
    const owner = policyKey(parsed.kind, parsed.namespace, parsed.name);
    this.#change(this.cidrs.setUse(owner, cidrUseOf(parsed.rules)), () => this.apply(this.engine.upsertPolicy(parsed)));
  }

  /** Removes a policy. */
  deletePolicy(kind: PolicyKind, namespace: string | undefined, name: string): void {
    const apply = () => this.apply(this.engine.deletePolicy(kind, namespace, name));
    const change = this.cidrs.setUse(policyKey(kind, namespace, name), undefined);
    this.#change(change, apply);
  }

  /** Sets (or with undefined, drops) a CiliumCIDRGroup; rules referencing it re-select at once. */
  setCidrGroup(name: string, group: CidrGroup | undefined): void {
    this.#change(this.cidrs.setGroup(name, group));
  }

  #change(change: CidrIdentityChange, between?: () => void): void {
    if (change.added.length > 0) this.apply(this.engine.updateIdentities(change.added.map((a) => [a.id, a.labels] as const)));
    between?.();
    for (const a of change.added) this.ipcache.upsert('cidr', a.prefix, { identity: a.id });
    const readded = new Set(change.added.map((a) => a.prefix));
    for (const r of change.removed) if (!readded.has(r.prefix)) this.ipcache.remove('cidr', r.prefix);
    if (change.removed.length > 0) this.apply(this.engine.updateIdentities([], change.removed.map((r) => r.id)));
  }
}

/** The fields of a CiliumCIDRGroup the agent reads. */
export interface CiliumCidrGroupObject extends KubernetesObject {
  spec?: { externalCIDRs?: string[] };
}

/** A CiliumCIDRGroup object as a {@link CidrGroup}. */
export function cidrGroupOf(obj: CiliumCidrGroupObject): CidrGroup {
  return { labels: obj.metadata?.labels ?? {}, cidrs: obj.spec?.externalCIDRs ?? [] };
}
