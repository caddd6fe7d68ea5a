// Keeps one CiliumNode per Node: created when the Node appears, deleted with it.
import type { V1Node } from '@kubernetes/client-node';
import type { CiliumNode, NodeAddress } from '../crds/types.generated.ts';
import { cachedReconciler, Controller, mapSelf, type Informer } from '../runtime/index.ts';
import type { ReconcilerDeps } from './deps.ts';
import { REFS } from './resources.ts';

const ADDRESS_TYPES = new Set(['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS']);

/** The CiliumNode the operator creates for `node`: owned by it, with its addresses. */
export function ciliumNodeFor(node: V1Node): CiliumNode {
  const addresses: NodeAddress[] = (node.status?.addresses ?? [])
    .filter((a) => ADDRESS_TYPES.has(a.type))
    .map((a) => ({ type: a.type as NodeAddress['type'], ip: a.address }));
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: {
      name: node.metadata?.name,
      labels: node.metadata?.labels,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata?.name ?? '', uid: node.metadata?.uid ?? '' }],
    },
    spec: { addresses },
  };
}

/** A controller creating missing CiliumNodes for Nodes and deleting CiliumNodes whose Node is gone. */
export function ciliumNodeFromNodeController(deps: ReconcilerDeps, nodes: Informer<V1Node>, ciliumNodes: Informer<CiliumNode>): Controller {
  const reconciler = cachedReconciler<V1Node>(nodes, {
    async apply(ctx, node, req) {
      if (node.metadata?.deletionTimestamp) return;
      const existing = ciliumNodes.get(req.name);
      const want = ciliumNodeFor(node);
      if (!existing) {
        if (await deps.api.create(REFS.ciliumNode, want)) ctx.log.info('created CiliumNode');
        return;
      }
      // Addresses follow the Node (a Node often reports them only after it registered).
      if (JSON.stringify(existing.spec?.addresses ?? []) !== JSON.stringify(want.spec.addresses)) {
        await deps.api.jsonPatch(REFS.ciliumNode, req, [
          { op: 'test', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
          { op: 'add', path: existing.spec ? '/spec/addresses' : '/spec', value: existing.spec ? want.spec.addresses : { addresses: want.spec.addresses } },
        ]);
        ctx.log.info('updated CiliumNode addresses');
      }
    },
    async cleanup(ctx, req) {
      const cn = ciliumNodes.get(req.name);
      if (!cn) return;
      // Confirm on the server: the Node cache may lag behind a Node that was just created.
      if (await deps.api.get(REFS.node, req)) return;
      if (await deps.api.delete(REFS.ciliumNode, req, { uid: cn.metadata?.uid })) ctx.log.info('deleted CiliumNode of removed Node');
    },
  });
  return new Controller({ name: 'ciliumnode-from-node', reconciler, log: deps.log, registry: deps.registry, clock: deps.clock, workers: 2 })
    .for(nodes)
    .watches(ciliumNodes, mapSelf);

}
