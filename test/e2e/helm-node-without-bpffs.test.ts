// A helm-installed Ciliate with bpf.autoMount.enabled=false on two real kubelet nodes, one of whose
// hosts has no BPF filesystem at /sys/fs/bpf (an empty tmpfs in its mount namespace): that node's
// agent says why in its log, its readiness (/healthz) and on the Node (Warning Event NodeSetupFailed,
// condition NetworkUnavailable), and configures nothing there (no CNI configuration, no BPF program,
// no pin); the other node runs pods as usual.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { RELEASE } from '../../cluster/helm-install.ts';
import { nodeHostDir, nodeMountNs } from '../../cluster/kubelet-node/mount-ns.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { NETWORK_UNAVAILABLE, REASON_SETUP_FAILED, REASON_UP } from '../../agent/node-setup/node-condition.ts';
import { runCommand, uniqueClusterName } from '../support/cluster.ts';
import { eventually } from '../nodes/helpers.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';

interface PodLike {
  metadata: { name: string };
  status: { conditions?: { type: string; status: string; reason?: string }[]; containerStatuses?: { name: string; ready: boolean; restartCount: number }[] };
}

describe('helm install on a node whose host has no BPF filesystem (bpf.autoMount.enabled=false)', function () {
  this.timeout(300_000);
  const name = uniqueClusterName('hb');
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-hb-'));
  let cluster: RunningCluster;
  let good: NodeConfig;
  let bare: NodeConfig;
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await runCommand(join(cluster.binDir, 'kubectl'), args, { KUBECONFIG: cluster.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const agentOn = async (node: string): Promise<PodLike> => {
    const pods = JSON.parse(await ok(['-n', RELEASE.namespace, 'get', 'pods', '-l', 'k8s-app=cilium', '--field-selector', `spec.nodeName=${node}`, '-o', 'json'])).items as PodLike[];
    expect(pods, `the agent pod on ${node}`).to.have.length(1);
    return pods[0]!;
  };
  /** The BPF programs attached to the interfaces of `node`'s network namespace (XDP, tc, tcx, ...). */
  const attachedPrograms = async (node: NodeConfig): Promise<unknown[]> => {
    const r = await runCommand('nsenter', [`--net=/run/netns/${node.netns}`, 'bpftool', '-j', 'net', 'show']);
    expect(r.code, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as Record<string, unknown[]>[]).flatMap((kinds) => Object.values(kinds).flat());
  };
  const networkUnavailable = async (node: string) => {
    const n = JSON.parse(await ok(['get', 'node', node, '-o', 'json'])) as { status: { conditions: { type: string; status: string; reason: string; message: string }[] } };
    return n.status.conditions.find((c) => c.type === NETWORK_UNAVAILABLE);
  };

  before(async () => {
    cluster = await up({
      name, stateRoot, nodes: 2, install: 'helm', operator: true, quiet: true,
      withoutBpffs: [1], helmValues: ['bpf.autoMount.enabled=false', 'operator.replicas=1'],
    });
    [good, bare] = cluster.config.nodes! as [NodeConfig, NodeConfig];
  });

  after(async () => {
    await down({ name, stateRoot, quiet: true }).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('logs why on that node, leaving the BPF filesystem to the host', async () => {
    const pod = (await agentOn(bare.name)).metadata.name;
    const log = await eventually(async () => {
      const l = await runCommand(join(cluster.binDir, 'kubectl'), ['-n', RELEASE.namespace, 'logs', pod, '-c', 'cilium-agent'], { KUBECONFIG: cluster.kubeconfig });
      return l.stdout.includes('node setup failed') ? l.stdout : undefined;
    }, 'the agent logs the failure');
    const setup = await ok(['-n', RELEASE.namespace, 'logs', pod, '-c', 'node-setup']);
    expect(setup).to.contain('bpf-root /sys/fs/bpf: not mounted here (bpf.autoMount.enabled is false');
    expect(log).to.match(/node setup failed: bpf-root: \/sys\/fs\/bpf is not a BPF filesystem/);
    expect(log).to.not.contain('CNI socket listening');
  });

  it('stays not Ready, its /healthz saying why, without restarting in a loop', async () => {
    const pod = await agentOn(bare.name);
    expect(pod.status.conditions?.find((c) => c.type === 'Ready')).to.deep.include({ status: 'False', reason: 'ContainersNotReady' });
    const agent = pod.status.containerStatuses?.find((c) => c.name === 'cilium-agent');
    expect(agent).to.deep.include({ ready: false, restartCount: 0 });
    const r = await runCommand('nsenter', [`--net=/run/netns/${bare.netns}`, 'curl', '-s', '-w', '\n%{http_code}', 'http://127.0.0.1:9879/healthz']);
    const lines = r.stdout.trim().split('\n');
    expect(lines.pop()).to.equal('503');
    expect(JSON.parse(lines.join('\n'))).to.deep.include({ status: 'failed' }).and.to.have.property('reason').that.contains('bpf-root: /sys/fs/bpf is not a BPF filesystem');
  });

  it('records a Warning Event NodeSetupFailed and NetworkUnavailable=True on that Node only', async () => {
    const events = await eventually(async () => {
      const list = JSON.parse(await ok(['get', 'events', '-A', '--field-selector', 'reason=NodeSetupFailed', '-o', 'json'])).items as
        { type: string; involvedObject: { kind: string; name: string }; message: string }[];
      return list.length > 0 ? list : undefined;
    }, 'the NodeSetupFailed Event');
    for (const e of events) expect(e).to.deep.include({ type: 'Warning' }).and.to.have.property('involvedObject').that.deep.includes({ kind: 'Node', name: bare.name });
    expect(events[0]!.message).to.contain('bpf-root').and.to.contain('not a BPF filesystem');
    const unavailable = await eventually(() => networkUnavailable(bare.name), 'the NetworkUnavailable condition');
    expect(unavailable).to.deep.include({ status: 'True', reason: REASON_SETUP_FAILED });
    expect(unavailable.message).to.contain('bpf-root');
    expect(await eventually(() => networkUnavailable(good.name), 'the healthy node\'s condition')).to.deep.include({ status: 'False', reason: REASON_UP });
  });

  it('configures nothing on that node: no CNI configuration, no BPF program, no pin', async () => {
    expect(readdirSync(nodeHostDir(bare.dir, '/etc/cni/net.d'))).to.deep.equal([]);
    expect(await attachedPrograms(bare)).to.deep.equal([]);
    const pins = await runCommand('nsenter', [`--mount=${nodeMountNs(bare.name)}`, '--', 'ls', '-A', '/sys/fs/bpf']);
    expect(pins.code, pins.stderr).to.equal(0);
    expect(pins.stdout.trim()).to.equal('');
    // The same checks find what a working node has.
    expect(readdirSync(nodeHostDir(good.dir, '/etc/cni/net.d'))).to.include('05-cilium.conflist');
    expect(await attachedPrograms(good)).to.not.be.empty;
  });

  it('runs pods on the healthy node', async () => {
    expect((await agentOn(good.name)).status.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    await ok(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'healthy' },
      spec: { nodeName: good.name, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: AGNHOST, args: ['pause'] }] },
    }));
    await ok(['wait', '--for=condition=Ready', '--timeout=120s', 'pod/healthy']);
    expect((await ok(['get', 'pod', 'healthy', '-o', 'jsonpath={.status.phase}'])).trim()).to.equal('Running');
  });
});
