/**
 * Synthetic datapath events turned into Hubble flows through the agent's own conversion: a spread of
 * verdicts, event types, directions, protocols, ports, reply states, namespaces, pods and labels, for
 * the Hubble server and filter tests; and the policy of the Hubble suites on real pods.
 */
import type { FlowEvent } from '../../datapath/events.ts';
import { toHubbleFlow, type FlowContext } from '../../agent/hubble-flow.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import type { RuleOrigin } from '../../policy/api/model.ts';

/** Pods of the synthetic cluster by address. */
export const PODS: Record<string, { namespace: string; name: string; identity: number; labels: string[] }> = {
  '10.244.0.5': { namespace: 'demo', name: 'client-7d9f', identity: 1001, labels: ['k8s:app=client', 'k8s:io.kubernetes.pod.namespace=demo'] },
  '10.244.1.7': { namespace: 'demo', name: 'server-0', identity: 1002, labels: ['k8s:app=server', 'k8s:tier=web', 'k8s:io.kubernetes.pod.namespace=demo'] },
  '10.244.1.9': { namespace: 'other', name: 'db-1', identity: 1003, labels: ['k8s:app=db', 'k8s:tier=data', 'k8s:io.kubernetes.pod.namespace=other'] },
};

/** A context resolving {@link PODS}; anything else is outside the cluster (world). */
export function syntheticContext(nodeName = 'node-a'): FlowContext {
  return {
    nodeName, clusterName: 'default',
    endpoint: (ip, identity) => {
      const p = PODS[ip];
      return p ? { identity, namespace: p.namespace, pod_name: p.name, labels: p.labels } : { identity, labels: ['reserved:world'] };
    },
  };
}

const BASE: FlowEvent = {
  type: 'TRACE', verdict: 'FORWARDED', dropReason: 0, dropReasonDesc: '', matchType: 'NONE', direction: 'EGRESS', endpointId: 12,
  srcIdentity: 1001, dstIdentity: 1002, srcIp: '10.244.0.5', dstIp: '10.244.1.7', srcPort: 40000, dstPort: 8080, protocol: 6,
  tcpFlags: 0x02, ctState: 'NEW', ifindex: 3, entryId: 0, proxyPort: 0, packets: 1, bytes: 60n, tsNs: 0n, serviceLoopback: false,
};

const DENY: RuleOrigin[] = [{ kind: 'CiliumNetworkPolicy', namespace: 'demo', name: 'deny-db', ruleIndex: 0 }];
const ALLOW: RuleOrigin[] = [{ kind: 'NetworkPolicy', namespace: 'demo', name: 'allow-web', ruleIndex: 0 }];

/** `count` flows (at least 12) one millisecond apart from `startMs`, cycling through the variants. */
export function syntheticFlows(count = 24, startMs = Date.parse('2026-01-01T00:00:00Z'), nodeName = 'node-a'): Flow[] {
  const ident = (ip: string) => PODS[ip]?.identity ?? 2;
  const variants: [Partial<FlowEvent>, RuleOrigin[]][] = [
    [{}, []],
    [{ type: 'POLICY_VERDICT', direction: 'INGRESS', matchType: 'L3_L4' }, ALLOW],
    [{ direction: 'INGRESS' }, ALLOW],
    [{ srcIp: '10.244.1.7', dstIp: '10.244.0.5', srcPort: 8080, dstPort: 40000, tcpFlags: 0x12, ctState: 'REPLY' }, []],
    [{ type: 'DROP', verdict: 'DROPPED', dropReason: 133, direction: 'INGRESS', dstIp: '10.244.1.9', dstPort: 5432 }, []],
    [{ type: 'DROP', verdict: 'DROPPED', dropReason: 181, direction: 'EGRESS', dstIp: '10.244.1.9', dstPort: 5432 }, DENY],
    [{ protocol: 17, dstIp: '10.244.1.9', dstPort: 53, srcPort: 5353, tcpFlags: 0 }, []],
    [{ protocol: 1, srcPort: 7, dstPort: 0, tcpFlags: 0, dstIp: '198.51.100.10' }, []],
    [{ protocol: 1, srcPort: 0, dstPort: 7, tcpFlags: 0, srcIp: '198.51.100.10', dstIp: '10.244.0.5', direction: 'INGRESS', ctState: 'REPLY' }, []],
    [{ srcIp: '10.244.1.9', dstIp: '10.244.1.7', srcPort: 41000, dstPort: 80, tcpFlags: 0x11, ctState: 'ESTABLISHED' }, []],
    [{ type: 'DROP', verdict: 'DROPPED', dropReason: 133, srcIp: '198.51.100.10', dstIp: '10.244.1.7', dstPort: 443, direction: 'INGRESS' }, []],
    [{ tcpFlags: 0x04, ctState: 'ESTABLISHED' }, []],
  ];
  const out: Flow[] = [];
  for (let i = 0; i < count; i++) {
    const [v, origins] = variants[i % variants.length]!;
    const e: FlowEvent = { ...BASE, ...v };
    e.srcIdentity = ident(e.srcIp);
    e.dstIdentity = ident(e.dstIp);
    out.push(toHubbleFlow(e, origins, syntheticContext(nodeName), new Date(startMs + i)));
  }
  return out;
}

/**
 * The real-pod Hubble suites' policy `server-ingress` in `namespace`: pods `app=server` admit
 * `app=friend`, deny `app=client` by rule, and (selected by a policy) deny anyone else by default.
 */
export function serverIngressPolicy(namespace: string): object {
  return {
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'server-ingress', namespace },
    spec: {
      endpointSelector: { matchLabels: { app: 'server' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'friend' } }] }],
      ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }],
    },
  };
}
