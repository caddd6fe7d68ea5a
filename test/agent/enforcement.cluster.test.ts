// The agent's enforcement on real parts, short of a node runner: the real apiserver (Pods, CRDs,
// kubectl apply of a CiliumNetworkPolicy), real namespaces and veths standing in for the CNI's
// plumbing, real BPF programs and real TCP.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inNetns } from '../../datapath/netns.ts';
import { makePinDir, removePinDir } from '../../datapath/bpffs.ts';
import { createLogger } from '../../runtime/logger.ts';
import { Manager } from '../../runtime/manager.ts';
import { createEnforcement, type CniEndpoint, type Enforcement } from '../../agent/enforcement.ts';
import { native } from '../../datapath/native.ts';
import { requireBpf } from '../datapath/support/env.ts';
import { buildPacket, skbOnInterface, TCP } from '../datapath/support/packets.ts';
import { createTopology, nsSpawn, tcpConnects, type Topology } from '../datapath/support/netns.ts';
import { ensureCrds, kubectl, testKubeConfig } from '../support/cluster.ts';

const PORT = 8080;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function eventually(check: () => boolean, ms = 5000, refresh?: () => Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  await refresh?.();
  while (!check()) {
    await refresh?.();
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

describe('agent enforcement against a real apiserver and kernel', function () {
  this.timeout(120_000);
  const ns = `enf-${Date.now().toString(36)}`;
  let topo: Topology;
  let pinRoot = '';
  let stateDir = '';
  let server: ChildProcess | undefined;
  let enforcement: Enforcement;
  let stop = new AbortController();
  let managerDone: Promise<void> | undefined;
  /** Starts an agent's enforcement (a restarted one finds the pins and state of the previous). */
  const startAgent = async () => {
    enforcement = createEnforcement({
      kc: await testKubeConfig(), nodeName: 'node-a', nodeIP: '172.29.200.2', pinRoot, stateDir, clusterName: 'default',
      enforcementMode: 'default', log: createLogger({ level: 'warn' }), inNodeNetns: (fn) => inNetns(topo.nodePath, fn),
    });
    const manager = new Manager({ log: createLogger({ level: 'warn' }) });
    for (const c of enforcement.caches) manager.addCache(c);
    for (const r of enforcement.runnables) manager.add(r);
    stop = new AbortController();
    managerDone = manager.start(stop.signal).catch(() => undefined);
  };
  const endpoints: Record<string, CniEndpoint> = {};
  let sport = 30000;
  /** The server endpoint's program judges a fresh SYN from the client: true when it passes. */
  const kernelAllows = (): boolean => {
    const ep = enforcement.enforcer.endpoints().find((e) => e.request.podName === 'server')!;
    const pkt = buildPacket({ src: topo.ipA, dst: topo.ipB, proto: 'tcp', sport: sport++, dport: PORT, flags: TCP.SYN });
    const progs = enforcement.enforcer.programs;
    return inNetns(topo.nodePath, () => native().progTestRun(progs.toContainer, pkt, skbOnInterface(ep.ifindex))).retval === 0;
  };

  before(async function () {
    requireBpf(this);
    await ensureCrds();
    await ok(['create', 'namespace', ns]);
    for (const [name, app] of [['client', 'client'], ['server', 'server']]) {
      await ok(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app } },
        spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'none', ports: [{ name: 'http', containerPort: PORT }] }] },
      }));
    }
    const uid = async (name: string) => (await ok(['get', 'pod', name, '-n', ns, '-o', 'jsonpath={.metadata.uid}'])).trim();
    topo = createTopology();
    pinRoot = makePinDir(`ciliate-enf-${topo.suffix}`);
    stateDir = mkdtempSync(join(tmpdir(), 'ciliate-enf-'));
    endpoints.server = { key: 'srv/eth0', containerId: 'srv', ip: topo.ipB, hostIf: topo.lxcB, podNamespace: ns, podName: 'server', podUid: await uid('server') };
    endpoints.client = { key: 'cli/eth0', containerId: 'cli', ip: topo.ipA, hostIf: topo.lxcA, podNamespace: ns, podName: 'client', podUid: await uid('client') };
    server = nsSpawn(topo.podB, 'nc', '-lk', String(PORT));
    await startAgent();
  });

  after(async () => {
    stop.abort();
    await managerDone;
    server?.kill('SIGKILL');
    for (const ep of Object.values(endpoints)) await enforcement?.hooks.afterDelete(ep).catch(() => undefined);
    enforcement?.close();
    topo?.destroy();
    if (pinRoot) removePinDir(pinRoot);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
    await kubectl(['delete', 'ciliumidentities', '-l', `io.kubernetes.pod.namespace=${ns}`, '--wait=false']);
  });

  it('CNI ADD returns with the identity allocated, the CiliumEndpoint written and traffic flowing', async () => {
    await enforcement.hooks.beforeAddReturns(endpoints.server!);
    await enforcement.hooks.beforeAddReturns(endpoints.client!);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
    let out = '';
    await eventually(() => /server/.test(out) && /client/.test(out), 10_000, async () => (out = await ok(['get', 'cep', '-n', ns, '-o', 'wide'])));
    expect(out).to.match(/server\s+\d+\s+ready\s+10\.231\.2\.2\s+non-enforcing\s+non-enforcing/);
    const id = (await ok(['get', 'cep', 'server', '-n', ns, '-o', 'jsonpath={.status.identity.id}'])).trim();
    const labels = await ok(['get', 'ciliumidentity', id, '-o', 'jsonpath={.security-labels}']);
    expect(JSON.parse(labels)).to.include({ 'k8s:app': 'server', [`k8s:io.kubernetes.pod.namespace`]: ns });
  });

  it('kubectl apply of a policy reaches the kernel: the client is dropped, then allowed', async () => {
    const cnp = (from: string) => JSON.stringify({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'server-ingress', namespace: ns },
      spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: from } }], toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }] }] }] },
    });
    // Read-your-writes: once the wait for the apply's revision answers, the kernel judges by it.
    const applied = async (from: string) => {
      const revision = enforcement.revisions.revision + 1;
      await ok(['apply', '-f', '-'], cnp(from));
      const t0 = Date.now();
      const result = await enforcement.revisions.wait(revision, AbortSignal.timeout(10_000));
      expect(result).to.deep.include({ endpoints: 2, failed: [] });
      return Date.now() - t0;
    };
    const denyMs = await applied('nobody');
    expect(kernelAllows()).to.equal(false);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
    const allowMs = await applied('client');
    expect(kernelAllows()).to.equal(true);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(true);
    console.log(`      kubectl apply returned -> policy wait answered: deny ${denyMs} ms, allow ${allowMs} ms`);
    await ok(['delete', 'cnp', 'server-ingress', '-n', ns]);
    await eventually(() => kernelAllows());
  });

  it('keeps the previous version enforced when an update is invalid, also after an agent restart', async () => {
    const valid = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'keep', namespace: ns },
      specs: [{ endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'nobody' } }] }] }],
    };
    await ok(['apply', '-f', '-'], JSON.stringify(valid));
    await eventually(() => !kernelAllows());
    // `specs` entries pass the apiserver's structural checks only; the agent's validation rejects this.
    const invalid = { ...valid, specs: [{ ...valid.specs[0], ingress: [{ fromEndpoints: [{}], fromCIDR: ['10.0.0.0/8'] }] }] };
    await ok(['apply', '-f', '-'], JSON.stringify(invalid));
    await new Promise((r) => setTimeout(r, 500));
    expect(kernelAllows(), 'still denied by the last valid version').to.equal(false);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
    // The agent restarts while the invalid version is what the cluster holds.
    stop.abort();
    await managerDone;
    enforcement.close();
    await startAgent();
    await enforcement.restore([endpoints.server!, endpoints.client!]);
    expect(enforcement.enforcer.endpoints()).to.have.length(2);
    expect(kernelAllows(), 'the restarted agent enforces the last valid version').to.equal(false);
    expect(enforcement.kernel.health().status).to.equal('ok');
    await ok(['delete', 'cnp', 'keep', '-n', ns]);
    await eventually(() => kernelAllows());
  });

  it("follows a pod's label change: new identity in the CiliumEndpoint, policy recomputed in the kernel", async () => {
    const policy = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'lockdown', namespace: ns },
      spec: { endpointSelector: { matchLabels: { tier: 'locked' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'nobody' } }] }] },
    };
    await ok(['apply', '-f', '-'], JSON.stringify(policy));
    const idBefore = (await ok(['get', 'cep', 'server', '-n', ns, '-o', 'jsonpath={.status.identity.id}'])).trim();
    expect(kernelAllows(), 'not selected yet').to.equal(true);
    await ok(['label', 'pod', 'server', '-n', ns, 'tier=locked']);
    await eventually(() => !kernelAllows(), 10_000);
    expect(tcpConnects(topo.podA, topo.ipB, PORT)).to.equal(false);
    let idAfter = idBefore;
    await eventually(() => idAfter !== idBefore, 10_000, async () => (idAfter = (await ok(['get', 'cep', 'server', '-n', ns, '-o', 'jsonpath={.status.identity.id}'])).trim()));
    const labels = JSON.parse(await ok(['get', 'ciliumidentity', idAfter, '-o', 'jsonpath={.security-labels}']));
    expect(labels).to.include({ 'k8s:tier': 'locked' });
    expect(JSON.parse(await ok(['get', 'cep', 'server', '-n', ns, '-o', 'jsonpath={.status.named-ports}']))).to.deep.equal([{ name: 'http', port: PORT, protocol: 'TCP' }]);
    await ok(['label', 'pod', 'server', '-n', ns, 'tier-']);
    await eventually(() => kernelAllows(), 10_000);
    await ok(['delete', 'cnp', 'lockdown', '-n', ns]);
  });
});
