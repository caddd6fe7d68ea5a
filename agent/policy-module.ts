/**
 * Policy on the node: the policy engine (knowing the reserved identities from the start, resolving
 * egress named ports from the CiliumEndpoints' index) and the path from the engine to the kernel:
 * every diff the engine computes is applied to the endpoints' tables (timed for
 * `cilium_endpoint_regeneration_time_stats_seconds`, the endpoints' CiliumEndpoints refreshed, policy
 * waiters told), policies and CIDR groups enter through the feed, and the last valid version of
 * each policy is kept across restarts. Its start hook takes over the CIDR identities an earlier agent
 * left in the ipcache, so its maps stay right until recomputed.
 */
import { ipcacheKeyCidr } from '../datapath/maps/ipcache.ts';
import { labelsOfCiliumIdentity } from '../identity/ciliumidentity.ts';
import { isLocalIdentity } from '../identity/numeric.ts';
import { singleStackReservedIdentities } from '../identity/reserved-labels.ts';
import { PolicyEngine, type EndpointDiffs } from '../policy/engine.ts';
import type { EnforcementMode } from '../policy/endpoint-policy.ts';
import type { Lifecycle } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RegenerationObserver } from './core-metrics.ts';
import type { EnforcementCaches } from './enforcement-caches.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import type { EndpointStatus } from './endpoint-status.ts';
import { NamedPortIndex } from './named-ports.ts';
import { join } from 'node:path';
import { cidrGroupOf, PolicyFeed } from './policy-feed.ts';
import { FqdnCache, type FqdnCacheOptions } from './fqdn-cache.ts';
import { FQDN_CACHE_FILE, loadFqdnCache } from './fqdn-cache-file.ts';
import { PolicyRevisions, type PolicyWaitResult } from './policy-revisions.ts';
import { ValidPolicies } from './valid-policies.ts';

/** The engine and the index its egress named ports resolve from. */
export interface PolicyEngineModule {
  engine: PolicyEngine;
  namedPorts: NamedPortIndex;
}

/** Builds the policy engine, primed with the reserved identities. */
export function policyEngine(o: { enforcementMode: EnforcementMode; cidrMatchesEndpoints?: boolean }): PolicyEngineModule {
  const namedPorts = new NamedPortIndex();
  const engine: PolicyEngine = new PolicyEngine({
    enforcementMode: o.enforcementMode,
    cidrMatchesEndpoints: o.cidrMatchesEndpoints ?? false,
    egressNamedPorts: (name, peer) => namedPorts.resolve(name, peer, (id) => engine.selectorCache.identityLabels(id)),
  });
  engine.updateIdentities(singleStackReservedIdentities().map((r) => [r.id, r.labels] as const));
  return { engine, namedPorts };
}

/** What the path from the engine to the kernel needs. */
export interface PolicyPathDeps {
  engine: PolicyEngine;
  enforcer: EndpointEnforcer;
  status: EndpointStatus;
  /** Times endpoint regenerations (metrics); undefined: not timed. */
  regenerated?: RegenerationObserver;
  stateDir: string;
  clusterName: string;
  /** The FQDN cache's settings (`tofqdns-*`). */
  fqdnCache?: FqdnCacheOptions;
  lifecycle: Lifecycle;
  log: Logger;
}

/** The path from policies to the endpoints' tables. */
export interface PolicyPath {
  /** Applies diffs the engine computed to the endpoints they concern. */
  apply(diffs: EndpointDiffs): void;
  feed: PolicyFeed;
  validPolicies: ValidPolicies;
  /** Read-your-writes for policy: the repository's revision, and a wait until the kernel holds it. */
  revisions: PolicyRevisions;
  /** Feeds the engine everything the synced caches hold: identities, CIDR groups, the valid policies. */
  prime(caches: Pick<EnforcementCaches, 'identities' | 'cidrGroups' | 'policies'>): void;
}

/** Builds the path and registers the CIDR identities' start hook. */
export function policyPath(d: PolicyPathDeps): PolicyPath {
  const { engine, enforcer } = d;
  // Every endpoint's policy map and the ipcache, waited for as they are now (an endpoint removed meanwhile is skipped).
  const settled = async (): Promise<PolicyWaitResult> => {
    const revision = engine.repository.revision;
    const eps = enforcer.endpoints();
    const [, ...perEndpoint] = await Promise.all([
      enforcer.ipcache.reconciler.waitUntilReconciled(enforcer.ipcache.table),
      ...eps.map((ep) => ep.policy.reconciler.waitUntilReconciled(ep.policy.table).then(() => ep.policy.notWritten(), () => [])),
    ]);
    const failed = perEndpoint.flatMap((rows, i) => (rows.length ? [{ endpoint: eps[i]!.id, rows: rows.length, message: rows[0]!.message }] : []));
    return { revision, endpoints: eps.length, failed };
  };
  const revisions = new PolicyRevisions({ revision: () => engine.repository.revision, settled });
  const apply = (diffs: EndpointDiffs) => {
    const start = performance.now();
    enforcer.applyDiffs(diffs);
    // Each endpoint whose policy changed was regenerated; each gets its share of the time.
    const share = (performance.now() - start) / 1000 / diffs.size;
    for (let i = 0; i < diffs.size; i++) d.regenerated?.(share, true);
    d.status.refresh(diffs.keys());
    revisions.changed();
  };
  // DNS answers from before a restart: their addresses keep their identities when policies apply.
  const fqdnCache = new FqdnCache(d.fqdnCache);
  loadFqdnCache(join(d.stateDir, FQDN_CACHE_FILE), fqdnCache, Date.now(), d.log);
  const feed = new PolicyFeed(engine, enforcer.ipcache, apply, undefined, fqdnCache);
  const validPolicies = new ValidPolicies(d.stateDir, d.clusterName, d.log);
  d.lifecycle.append({
    name: 'cidr-identities',
    start: () => feed.cidrs.restore(enforcer.ipcache.map.entries().filter(([, v]) => isLocalIdentity(v.secIdentity)).map(([k, v]) => [ipcacheKeyCidr(k), v.secIdentity] as const)),
  });
  return {
    apply, feed, validPolicies, revisions,
    prime(caches) {
      apply(engine.updateIdentities(caches.identities.list().flatMap((obj) => {
        const id = Number(obj.metadata?.name);
        return Number.isInteger(id) && id > 0 ? [[id, labelsOfCiliumIdentity(obj)] as const] : [];
      })));
      for (const obj of caches.cidrGroups.list()) feed.setCidrGroup(obj.metadata?.name ?? '', cidrGroupOf(obj));
      for (const [kind, cache] of caches.policies) {
        for (const obj of cache.list()) {
          const parsed = validPolicies.resolve(kind, obj);
          if (parsed) feed.upsertPolicy(parsed);
        }
      }
    },
  };
}
