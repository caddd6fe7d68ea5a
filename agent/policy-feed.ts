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
 *
 * DNS answers enter here too: the FQDN cache learns the addresses of names (`dnsAnswer`), and
 * every address with a name some policy's `toFQDNs` matches gets an identity labelled with those
 * names, in the same order (so egress to it is allowed before the client sees the answer), until
 * `fqdnGc` finds its TTL and grace period run out.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { FqdnSelectorSpec, PolicyKind } from '../policy/api/model.ts';
import { fqdnNamesByIp, fqdnSelectorsOf } from '../policy/fqdn.ts';
import type { PolicyParseResult } from '../policy/api/parse-cilium-policy.ts';
import type { EndpointDiffs, PolicyEngine } from '../policy/engine.ts';
import { policyKey } from '../policy/repository.ts';
import { CidrIdentities, cidrUseOf, type CidrGroup, type CidrIdentityChange } from './cidr-identities.ts';
import { FqdnCache } from './fqdn-cache.ts';
import type { IpcacheSync } from './ipcache-sync.ts';

/** Feeds policies and CIDR groups into the engine, the CIDR identities and the ipcache. */
export class PolicyFeed {
  readonly cidrs: CidrIdentities;
  readonly fqdnCache: FqdnCache;
  /** The toFQDNs selectors of each policy that has some. */
  readonly #fqdnSelectors = new Map<string, FqdnSelectorSpec[]>();

  constructor(
    readonly engine: PolicyEngine,
    readonly ipcache: IpcacheSync,
    readonly apply: (diffs: EndpointDiffs) => void,
    cidrs = new CidrIdentities(),
    fqdnCache = new FqdnCache(),
  ) {
    this.cidrs = cidrs;
    this.fqdnCache = fqdnCache;
  }

  /** Adds or replaces a valid parsed policy. */
  upsertPolicy(parsed: PolicyParseResult): void {
    const owner = policyKey(parsed.kind, parsed.namespace, parsed.name);
    this.#setFqdnSelectors(owner, fqdnSelectorsOf(parsed.rules));
    this.#change(this.cidrs.setUse(owner, cidrUseOf(parsed.rules)), () => this.apply(this.engine.upsertPolicy(parsed)));
  }

  /** Removes a policy. */
  deletePolicy(kind: PolicyKind, namespace: string | undefined, name: string): void {
    const owner = policyKey(kind, namespace, name);
    const apply = () => this.apply(this.engine.deletePolicy(kind, namespace, name));
    this.#change(this.cidrs.setUse(owner, undefined), apply);
    this.#setFqdnSelectors(owner, []);
  }

  /** Records a DNS answer's addresses for `name` (TTLs in seconds) and selects them by name. */
  dnsAnswer(name: string, records: readonly { ip: string; ttl: number }[], nowMs: number): void {
    if (this.fqdnCache.update(name, records, nowMs)) this.#refreshFqdn();
  }

  /** Forgets addresses whose TTL and grace period ran out at `nowMs`; egress to them stops. */
  fqdnGc(nowMs: number): void {
    if (this.fqdnCache.gc(nowMs).length > 0) this.#refreshFqdn();
  }

  #setFqdnSelectors(owner: string, selectors: FqdnSelectorSpec[]): void {
    const had = this.#fqdnSelectors.has(owner);
    if (selectors.length > 0) this.#fqdnSelectors.set(owner, selectors);
    else this.#fqdnSelectors.delete(owner);
    if (had || selectors.length > 0) this.#refreshFqdn();
  }

  /** Labels every cached address with the names the selectors in use match. */
  #refreshFqdn(): void {
    const selectors = [...this.#fqdnSelectors.values()].flat();
    this.#change(this.cidrs.setFqdnNames(fqdnNamesByIp(this.fqdnCache.entries(), selectors)));
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
