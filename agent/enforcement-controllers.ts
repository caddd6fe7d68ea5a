/**
 * The controllers that feed a node's enforcement from its caches: policies of each kind, CIDR
 * groups, identities, named ports, the ipcache (endpoints, nodes, the apiserver), identity addresses
 * (when CIDR rules select pods), Services, and the endpoints' labels.
 */
import type { Registry } from 'prom-client';
import type { PolicyEngine } from '../policy/engine.ts';
import { cachedReconciler } from '../runtime/cached-reconciler.ts';
import { Controller } from '../runtime/controller.ts';
import type { Logger } from '../runtime/logger.ts';
import { objectKey } from '../runtime/resource.ts';
import { IdentityAddressIndex, identityAddressesReconciler } from './endpoint-addresses.ts';
import type { EndpointEnforcer } from './endpoint-enforcer.ts';
import type { EndpointStatus } from './endpoint-status.ts';
import type { EnforcementCaches } from './enforcement-caches.ts';
import { identityReconciler } from './identity-controller.ts';
import { apiserverIpcacheReconciler, endpointIpcacheReconciler, nodeIpcacheReconciler } from './ipcache-controllers.ts';
import type { LbSync } from './lb-sync.ts';
import type { NamedPortIndex } from './named-ports.ts';
import { namedPortsReconciler } from './named-ports.ts';
import type { PodIdentity } from './pod-identity.ts';
import { policyReconciler } from './policy-controller.ts';
import { cidrGroupOf } from './policy-feed.ts';
import type { PolicyPath } from './policy-module.ts';
import { serviceKeyOfSlice, serviceLbReconciler, type LbNode } from './service-controllers.ts';

/** What the controllers need. */
export interface EnforcementControllersDeps {
  caches: EnforcementCaches;
  engine: PolicyEngine;
  namedPorts: NamedPortIndex;
  path: PolicyPath;
  enforcer: EndpointEnforcer;
  lb: LbSync;
  lbNode: LbNode;
  identity: PodIdentity;
  status: EndpointStatus;
  nodeName: string;
  /** NetworkPolicy ipBlocks also select pods by address. */
  cidrMatchesEndpoints?: boolean;
  /** Whether endpoints are being enforced yet (label changes before that are picked up by the first ADD). */
  started: () => boolean;
  registry?: Registry;
  log: Logger;
}

/** Builds the controllers (the Manager runs them). */
export function enforcementControllers(d: EnforcementControllersDeps): Controller[] {
  const { caches: c, engine, enforcer, path, log } = d;
  const { apply, feed } = path;
  const controller = (name: string, reconciler: ConstructorParameters<typeof Controller>[0]['reconciler']) =>
    new Controller({ name, reconciler, log, registry: d.registry, needLeaderElection: false, resyncIntervalMs: 300_000 });
  return [
    ...c.policies.map(([kind, cache]) => controller(`policy-${kind}`, policyReconciler(kind, cache, feed, path.validPolicies)).for(cache)),
    controller('cidr-groups', cachedReconciler(c.cidrGroups, {
      async apply(_ctx, obj) {
        feed.setCidrGroup(obj.metadata?.name ?? '', cidrGroupOf(obj));
        return {};
      },
      async cleanup(_ctx, req) {
        feed.setCidrGroup(req.name, undefined);
        return {};
      },
    })).for(c.cidrGroups),
    controller('identities', identityReconciler(c.identities, engine, (diffs, ids) => {
      apply(diffs);
      // Egress named ports of endpoints whose identity's labels just became known resolve now.
      apply(engine.refreshNamedPorts(new Set(ids.flatMap((id) => [...d.namedPorts.namesOf(id)]))));
    }, (id) => enforcer.endpoints().some((e) => e.identity === id))).for(c.identities),
    controller('named-ports', namedPortsReconciler(c.ceps, d.namedPorts, (names) => apply(engine.refreshNamedPorts(names)))).for(c.ceps),
    controller('ipcache-endpoints', endpointIpcacheReconciler(c.ceps, enforcer.ipcache)).for(c.ceps),
    ...(d.cidrMatchesEndpoints
      ? [controller('identity-addresses', identityAddressesReconciler(c.ceps, new IdentityAddressIndex(), (changes) => apply(engine.updateIdentityAddresses(changes)))).for(c.ceps)]
      : []),
    controller('services', serviceLbReconciler(c.services, c.slices, d.lb, d.lbNode)).for(c.services).watches(c.slices, serviceKeyOfSlice),
    controller('ipcache-nodes', nodeIpcacheReconciler(c.nodes, enforcer.ipcache, d.nodeName)).for(c.nodes),
    controller('ipcache-apiserver', apiserverIpcacheReconciler(c.slices, enforcer.ipcache)).for(c.slices),
    // A pod's or its namespace's labels changed: new identity, reloaded programs, recomputed policy.
    controller('endpoint-labels', cachedReconciler(c.pods, {
      async apply(_ctx, pod) {
        if (!d.started()) return {};
        const [ns, name] = [pod.metadata?.namespace ?? '', pod.metadata?.name ?? ''];
        for (const ep of enforcer.endpoints().filter((e) => e.request.podNamespace === ns && e.request.podName === name)) {
          if (await enforcer.relabel(ep.request.key, await d.identity.podFacts(ns, name))) d.status.refresh([ep.id]);
        }
        return {};
      },
    })).for(c.pods).watches(c.namespaces, (nsObj) => c.pods.list(nsObj.metadata?.name).map(objectKey)),
  ];
}
