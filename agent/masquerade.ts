/**
 * IPv4 masquerading of pod traffic that leaves the cluster's pod network, as upstream's iptables
 * masquerading does (`enable-ipv4-masquerade`, the default): in the agent's network namespace, a
 * chain `CILIUM_POST_nat` reached from POSTROUTING returns for destinations inside any node's pod
 * CIDR or inside `ipv4-native-routing-cidr`, and masquerades the rest of what this node's pods
 * send, so a pod reaches node addresses and the API server with the node's address as its source.
 * The chain is rewritten whole from the desired rules on every change and at a regular re-check,
 * never edited rule by rule.
 */
import type { V1Node } from '@kubernetes/client-node';
import { run } from '../runtime/exec.ts';
import { writeOwnedChains } from '../runtime/iptables-chains.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import { podCIDRsOf, routedCIDRsOf, type CiliumNodeLike } from './pod-cidrs.ts';
import type { Lookup } from './routes.ts';

/** The nat chain the agent owns (upstream's name). */
export const MASQUERADE_CHAIN = 'CILIUM_POST_nat';

/** How often the chain is re-checked even without changes. */
const RECHECK_MS = 30_000;

/** The chain's rules (iptables-restore syntax, without `-A CHAIN`) for this node's pods. */
export function masqueradeRules(self: string, nodes: CacheReader<V1Node>, ciliumNodes?: Lookup<CiliumNodeLike>, nativeRoutingCIDR?: string): string[] {
  const own = routedCIDRsOf(self, nodes, ciliumNodes);
  const cluster = new Set<string>();
  for (const n of nodes.list()) for (const c of routedCIDRsOf(n.metadata?.name ?? '', nodes, ciliumNodes)) cluster.add(c);
  for (const c of podCIDRsOf(self, nodes, ciliumNodes)) cluster.add(c);
  const rules: string[] = [];
  for (const src of own) {
    for (const dst of [...cluster].sort()) rules.push(`-s ${src} -d ${dst} -m comment --comment "cilium pod-to-pod: no masquerade" -j RETURN`);
    if (nativeRoutingCIDR) rules.push(`-s ${src} -d ${nativeRoutingCIDR} -m comment --comment "cilium native routing CIDR: no masquerade" -j RETURN`);
    rules.push(`-s ${src} ! -o lo -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE`);
  }
  return rules;
}

/** The rules now in the chain, as `iptables -S` prints them (without `-A CHAIN`). */
async function installedRules(): Promise<string[] | undefined> {
  const out = await run('iptables', ['-w', '-t', 'nat', '-S', MASQUERADE_CHAIN]).catch(() => undefined);
  if (out === undefined) return undefined;
  return out.split('\n').filter((l) => l.startsWith(`-A ${MASQUERADE_CHAIN} `)).map((l) => l.slice(`-A ${MASQUERADE_CHAIN} `.length));
}

/** Normalises a rule for comparison with what `iptables -S` prints (quotes dropped, spaces folded). */
function norm(rule: string): string {
  return rule.replace(/"/g, '').replace(/\s+/g, ' ').trim();
}

/** A reconciler (any key) converging {@link MASQUERADE_CHAIN} to {@link masqueradeRules}. */
export function masqueradeReconciler(self: string, nodes: CacheReader<V1Node>, ciliumNodes: Lookup<CiliumNodeLike> | undefined, nativeRoutingCIDR: string | undefined, log: Logger): Reconciler {
  return {
    async reconcile() {
      const want = masqueradeRules(self, nodes, ciliumNodes, nativeRoutingCIDR);
      const have = await installedRules();
      if (have === undefined || have.map(norm).join('\n') !== want.map(norm).join('\n')) {
        await writeOwnedChains([{ table: 'nat', name: MASQUERADE_CHAIN, hook: 'POSTROUTING', rules: want }]);
        log.info('masquerade rules written', { rules: want.length });
      }
      return { requeueAfterMs: RECHECK_MS };
    },
  };
}
