/**
 * The pods the Hubble suites observe on the shared two-node cluster: a client and a friend (busybox)
 * on the first node and an agnhost server on the second, in namespace `ns`; and a gRPC Observer
 * client on a node's Hubble socket.
 */
import { credentials, type ClientReadableStream } from '@grpc/grpc-js';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { hubbleClients } from '../../hubble/clients.ts';

/** The e2e suites' images, as the node images provide them. */
export const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
export const BUSYBOX = 'docker.io/library/busybox:1.35';
/** The server's HTTP port. */
export const SERVER_PORT = 8080;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts client and friend on `n0` and the server on `n1`, waits until they are Ready, and returns their endpoints. */
export async function clientFriendServer(
  c: RunningCluster, ns: string, [n0, n1]: [NodeConfig, NodeConfig], apply: (obj: object) => Promise<unknown>, kubectl: (args: string[]) => Promise<unknown>,
): Promise<{ client: PodEndpoint; friend: PodEndpoint; server: PodEndpoint }> {
  const pod = (name: string, node: NodeConfig, spec: object) => apply({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } }, spec: { nodeName: node.name, ...spec },
  });
  await pod('client', n0, { containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] });
  await pod('friend', n0, { containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] });
  await pod('server', n1, { containers: [{ name: 's', image: AGNHOST, args: ['netexec', `--http-port=${SERVER_PORT}`] }] });
  await kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod/client', 'pod/friend', 'pod/server', '--timeout=180s']);
  const ep = (name: string) => podEndpoints(c.config).find((p) => p.namespace === ns && p.name === name);
  for (let i = 0; i < 50 && !(ep('client') && ep('friend') && ep('server')); i++) await sleep(200);
  return { client: ep('client')!, friend: ep('friend')!, server: ep('server')! };
}

/** One GetFlows response as the tests read it. */
export type FlowsResponse = { flow?: unknown; lost_events?: { source: string; num_events_lost: number } };

/** A plain gRPC Observer client on a Hubble socket (close it when done). */
export function observerClient(socketPath: string): { GetFlows(req: object): ClientReadableStream<FlowsResponse>; close(): void } {
  return new (hubbleClients().observer)(`unix://${socketPath}`, credentials.createInsecure()) as unknown as ReturnType<typeof observerClient>;
}
