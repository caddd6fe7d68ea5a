// Service hairpin on the shared two-node cluster of real (kubelet) nodes: a pod (agnhost netexec) that
// is the only backend of its own ClusterIP (TCP and UDP), NodePort and LoadBalancer Services reaches
// itself through each of them. The client is a host process in the pod's network namespace. Outside
// the node cgroup (translated per packet) its connection comes back into the pod from the service
// loopback address and is judged by the pod's own policy as traffic from itself; inside it, where the
// pod's containers are (translated at connect()), it goes straight to the pod's address.
import { expect } from 'chai';
import { dirname, join } from 'node:path';
import type { RunningCluster } from '../../cluster/cluster.ts';
import { cgroupProcs, joinCgroupArgv } from '../../cluster/cgroup.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, readFlows, type PodEndpoint } from '../../cluster/pods.ts';
import { SERVICE_LOOPBACK_IPV4 } from '../../datapath/constants.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { clientIpProbe } from '../support/tcp-programs.ts';

const NS = 'svc-hairpin';
/** A documentation address (RFC 5737), only ever a frontend in the node's maps. */
const LB_IP = '192.0.2.71';
/** The e2e suite's test image; netexec answers /clientip (HTTP) and `clientip` (UDP) with the client's address. */
const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Frontend {
  kind: string;
  ip: string;
  port: number;
  proto: 'tcp' | 'udp';
}

describe('service hairpin: a pod reaching itself through its own Services on a two-node cluster', function () {
  this.timeout(240_000);
  let c: RunningCluster;
  let pod: PodEndpoint;
  let node: NodeConfig;
  let frontends: Frontend[] = [];
  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => kubectl(['apply', '-n', NS, '-f', '-'], JSON.stringify(obj));
  const service = (name: string, spec: object) => apply({
    apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: 'selfie' }, ...spec },
  });
  const tcpPort = { port: 80, targetPort: 8080, protocol: 'TCP', name: 'http' };
  /** Runs the probe in the pod's namespace, in the node cgroup (socket-level translation) or outside it (per packet). */
  const probe = async (fe: Frontend, atSocket: boolean) => {
    const argv = [...joinCgroupArgv(atSocket ? cgroupProcs(node.cgroup) : undefined), 'nsenter', `--net=${pod.netns}`, 'python3', '-c', clientIpProbe(fe.ip, fe.port, fe.proto)];
    return (await runCommand(argv[0]!, argv.slice(1))).stdout.trim();
  };
  /** Probes until `ok`, or gives up after ~10 s; the last answer. */
  const eventually = async (fe: Frontend, atSocket: boolean, ok: (answer: string) => boolean) => {
    let answer = await probe(fe, atSocket);
    for (let i = 0; i < 25 && !ok(answer); i++) await sleep(400), answer = await probe(fe, atSocket);
    return answer;
  };
  const viaLoopback = (fe: Frontend) => `${SERVICE_LOOPBACK_IPV4} ${fe.ip}:${fe.port}`;
  const direct = (fe: Frontend) => `${pod.ip} ${fe.ip}:${fe.port}`;

  before(async function () {
    c = await testRealNodesCluster();
    await runCommand(join(c.binDir, 'kubectl'), ['create', 'namespace', NS], { KUBECONFIG: c.kubeconfig });
    await apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'selfie', labels: { app: 'selfie' } },
      spec: { containers: [{ name: 'server', image: AGNHOST, args: ['netexec', '--http-port=8080', '--udp-port=5353'] }] },
    });
    await service('selfie', { ports: [tcpPort, { port: 53, targetPort: 5353, protocol: 'UDP', name: 'dns' }] });
    await service('selfie-np', { type: 'NodePort', ports: [tcpPort] });
    await service('selfie-lb', { type: 'LoadBalancer', ports: [tcpPort] });
    await kubectl(['patch', 'svc', '-n', NS, 'selfie-lb', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: LB_IP }] } } })]);
    await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/selfie', '--timeout=120s']);
    for (let i = 0; i < 50 && !podEndpoints(c.config).some((p) => p.namespace === NS && p.name === 'selfie'); i++) await sleep(200);
    pod = podEndpoints(c.config).find((p) => p.namespace === NS && p.name === 'selfie')!;
    node = c.config.nodes!.find((n) => n.name === pod.node)!;
    const vip = (await kubectl(['get', 'svc', '-n', NS, 'selfie', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const nodePort = Number(await kubectl(['get', 'svc', '-n', NS, 'selfie-np', '-o', 'jsonpath={.spec.ports[0].nodePort}']));
    frontends = [
      { kind: 'ClusterIP', ip: vip, port: 80, proto: 'tcp' },
      { kind: 'ClusterIP (UDP)', ip: vip, port: 53, proto: 'udp' },
      { kind: 'NodePort', ip: node.address, port: nodePort, proto: 'tcp' },
      { kind: 'LoadBalancer', ip: LB_IP, port: 80, proto: 'tcp' },
    ];
  });

  after(async function () {
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('per packet: reaches itself through ClusterIP (TCP, UDP), NodePort and LoadBalancer frontends, from the service loopback address', async function () {
    expect(await probe({ kind: 'pod', ip: pod.ip, port: 8080, proto: 'tcp' }, false), 'its own address, directly').to.equal(`${pod.ip} ${pod.ip}:8080`);
    for (const fe of frontends) expect(await eventually(fe, false, (a) => a === viaLoopback(fe)), fe.kind).to.equal(viaLoopback(fe));
  });

  it('at connect(): goes straight to its own address, the peer still reading as the frontend', async function () {
    expect(cgroupProcs(node.cgroup), 'the node has a cgroup v2 directory').to.be.a('string');
    for (const fe of frontends) expect(await eventually(fe, true, (a) => a === direct(fe)), fe.kind).to.equal(direct(fe));
  });

  it('per packet, its ingress policy judges the connection as coming from itself; flows show the service loopback', async function () {
    const http = frontends[0]!;
    const policy = (from: string) => apply({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'selfie-ingress' },
      spec: {
        endpointSelector: { matchLabels: { app: 'selfie' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { app: from } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] }],
      },
    });
    try {
      await policy('someone-else');
      const denied = await eventually(http, false, (a) => a.startsWith('error'));
      expect(denied, 'a rule for other pods does not admit it').to.match(/^error/);
      let drops = readFlows(c.config).filter((f) => f.verdict === 'DROPPED' && f.serviceLoopback && f.dstIp === pod.ip && f.dstPort === 8080);
      for (let i = 0; i < 20 && drops.length === 0; i++) await sleep(200), drops = readFlows(c.config).filter((f) => f.verdict === 'DROPPED' && f.serviceLoopback && f.dstIp === pod.ip && f.dstPort === 8080);
      expect(drops.length, 'drops marked as service loopback').to.be.greaterThan(0);
      expect(drops[0]).to.include({ direction: 'INGRESS', srcIp: SERVICE_LOOPBACK_IPV4, dropReason: 133 });
      expect(drops[0]!.srcIdentity, 'from its own identity').to.equal(drops[0]!.dstIdentity);
      expect(await probe(http, true), 'at connect() it stays on the pod\'s own loopback, which no policy covers').to.equal(direct(http));

      await policy('selfie');
      expect(await eventually(http, false, (a) => a === viaLoopback(http)), 'fromEndpoints selecting itself admits it').to.equal(viaLoopback(http));
      const cli = join(import.meta.dirname, '..', '..', 'bin', 'ciliate');
      const env = { CILIATE_STATE_DIR: dirname(dirname(c.config.dir)) };
      const observe = await runCommand(cli, ['observe', '--name', c.config.name, '--pod', `${NS}/selfie`, '--last', '200'], env);
      expect(observe.stdout, observe.stderr).to.match(/to-endpoint FORWARDED \(TCP Flags: SYN\) \(service loopback\) by CiliumNetworkPolicy\/svc-hairpin\/selfie-ingress/);
    } finally {
      await kubectl(['delete', '-n', NS, 'cnp', 'selfie-ingress', '--ignore-not-found']);
    }
  });
});
