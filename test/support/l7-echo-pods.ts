/**
 * The L7 scene of the real-nodes e2e tests: in a namespace of its own, an agnhost echo server on the
 * first node (port 80) whose ingress from the client pod on the second node allows `GET /echo.*`
 * only (`rules.http`), so every connection goes through the echo node's ingress HTTP proxy.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { runCommand } from './cluster.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';

/** Creates the namespace `ns`, the two pods and the policy; resolves once both pods are Ready. */
export async function l7EchoPods(c: RunningCluster, ns: string): Promise<{ echo: PodEndpoint; client: PodEndpoint }> {
  const kubectl = (args: string[], input?: string) => runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
  const [a, b] = c.config.nodes!;
  expect((await kubectl(['create', 'namespace', ns])).code).to.equal(0);
  const pod = (name: string, nodeName: string, args: string[]) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } },
    spec: { nodeName, containers: [{ name, image: AGNHOST, args }] },
  });
  const policy = {
    apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'echo-get-only', namespace: ns },
    spec: {
      endpointSelector: { matchLabels: { app: 'echo' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/echo.*' }] } }] }],
    },
  };
  const items = [pod('echo', a!.name, ['netexec', '--http-port=80']), pod('client', b!.name, ['pause']), policy];
  const applied = await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  expect(applied.code, applied.stderr).to.equal(0);
  const ready = await kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod', '--all', '--timeout=180s']);
  expect(ready.code, ready.stderr).to.equal(0);
  const find = (name: string) => podEndpoints(c.config).find((p) => p.namespace === ns && p.name === name)!;
  return { echo: find('echo'), client: find('client') };
}
