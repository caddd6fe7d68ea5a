// Real nodes: `up --nodes 2` runs, per node network namespace, its own containerd and a kubelet of the
// pinned version, with Ciliate's agent as the CNI; pods from locally built images go through the real
// pod lifecycle (volumes, probes, restarts, limits, logs/exec/port-forward/cp), and `down` leaves
// nothing behind.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { linkExists } from '../../cluster/network.ts';
import { isClusterNetns } from '../../cluster/node-config.ts';
import { nodeCgroupPids } from '../../cluster/kubelet-node/node-cgroups.ts';
import { mountsUnder, shimPids } from '../../cluster/kubelet-node/node-teardown.ts';
import { runtimePaths } from '../../cluster/kubelet-node/paths.ts';
import { alive, readState } from '../../cluster/state.ts';
import { clusterPaths } from '../../cluster/paths.ts';
import { runCommand, uniqueClusterName, type CommandResult } from '../support/cluster.ts';
import { eventually, netnsNames } from '../nodes/helpers.ts';

/** The shell image the tests run (busybox from Debian, built locally). */
export const SHELL_IMAGE = 'docker.io/library/busybox:1.35';

describe('real nodes: kubelet + containerd with Ciliate as the CNI', function () {
  this.timeout(600_000);
  const name = uniqueClusterName('rn');
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-rn-'));
  let cluster: RunningCluster;
  const kubectl = (args: string[], input?: string): Promise<CommandResult> =>
    runCommand(join(cluster.binDir, 'kubectl'), args, { KUBECONFIG: cluster.kubeconfig }, input);
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const pod = (podName: string, node: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, labels: { app: podName, ...labels } },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, ...spec },
  });
  const waitReady = (...pods: string[]) => ok(['wait', '--for=condition=Ready', '--timeout=120s', ...pods.map((p) => `pod/${p}`)]);

  before(async () => {
    cluster = await up({ name, stateRoot, nodes: 2, quiet: true });
  });

  after(async () => {
    await down({ name, stateRoot, quiet: true }).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('registers each node through its kubelet, with containerd as the runtime', async () => {
    const nodes = JSON.parse(await ok(['get', 'nodes', '-o', 'json'])).items as { metadata: { name: string }; spec: { podCIDR?: string }; status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string }; addresses: { type: string; address: string }[] } }[];
    expect(nodes.map((n) => n.metadata.name).sort()).to.deep.equal(cluster.config.nodes!.map((n) => n.name).sort());
    for (const n of nodes) {
      expect(n.status.nodeInfo.containerRuntimeVersion).to.match(/^containerd:\/\//);
      expect(n.status.nodeInfo.kubeletVersion).to.equal('v1.33.13');
      expect(n.spec.podCIDR, 'pod CIDR allocated').to.match(/^10\.244\.\d+\.0\/24$/);
      const address = cluster.config.nodes!.find((c) => c.name === n.metadata.name)!.address;
      expect(n.status.addresses).to.deep.include({ type: 'InternalIP', address });
    }
    expect(await ok(['get', 'nodes', '-o', 'wide'])).to.match(/containerd:\/\/1\.6/);
  });

  it('runs a pod with volumes, a readiness probe, env and a memory limit; logs, exec and cp reach it', async () => {
    const [n0] = cluster.config.nodes!;
    await ok(['create', 'configmap', 'settings', '--from-literal=greeting=hello']);
    await ok(['create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret']);
    await ok(['apply', '-f', '-'], pod('lifecycle', n0!.name, {
      containers: [{
        name: 'main', image: SHELL_IMAGE,
        command: ['sh', '-c', 'echo started $GREETING; echo data > /scratch/file; touch /tmp/ready; exec sleep 3600'],
        env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } }],
        readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
        volumeMounts: [
          { name: 'settings', mountPath: '/etc/settings' }, { name: 'creds', mountPath: '/etc/creds' },
          { name: 'scratch', mountPath: '/scratch' },
        ],
      }],
      volumes: [
        { name: 'settings', configMap: { name: 'settings' } }, { name: 'creds', secret: { secretName: 'creds' } },
        { name: 'scratch', emptyDir: {} },
      ],
    }));
    await waitReady('lifecycle');
    expect(await ok(['logs', 'lifecycle'])).to.contain('started hello');
    expect(await ok(['exec', 'lifecycle', '--', 'cat', '/etc/settings/greeting', '/etc/creds/password', '/scratch/file'])).to.equal('hellos3cretdata\n');
    // The projected service-account token kubelet mounts by default.
    expect(await ok(['exec', 'lifecycle', '--', 'cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace'])).to.equal('default');
    expect((await ok(['exec', 'lifecycle', '--', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'])).trim()).to.equal(String(64 * 1024 * 1024));
    const out = join(stateRoot, 'copied');
    await ok(['cp', 'lifecycle:/scratch/file', out]);
    expect(readFileSync(out, 'utf8')).to.equal('data\n');
  });

  it('connects pods across nodes through Ciliate, and port-forward reaches a pod', async () => {
    const [n0, n1] = cluster.config.nodes!;
    await ok(['apply', '-f', '-'], pod('web', n1!.name, {
      containers: [{ name: 'main', image: SHELL_IMAGE, command: ['sh', '-c', 'mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www'], ports: [{ containerPort: 8080 }] }],
    }));
    await ok(['apply', '-f', '-'], pod('client', n0!.name, { containers: [{ name: 'main', image: SHELL_IMAGE, command: ['sleep', '3600'] }] }));
    await waitReady('web', 'client');
    const webIP = (await ok(['get', 'pod', 'web', '-o', 'jsonpath={.status.podIP}'])).trim();
    expect(webIP).to.match(/^10\.244\./);
    // The client that crashed with exit 139 (issue 18.2): Debian's busybox wget parses -T without
    // supporting it, in any network namespace; the shell image's wget gives -T through `timeout`.
    const r = await kubectl(['exec', 'client', '--', 'wget', '-q', '-O', '-', '-T', '5', `http://${webIP}:8080/`]);
    expect(r.stdout, r.stderr).to.equal('pong\n');
    const refused = await kubectl(['exec', 'client', '--', 'wget', '-q', '-O', '-', '-T', '2', `http://${webIP}:8081/`]);
    expect(refused.code, 'a closed port is an error, not a crash').to.equal(1);
    const cep = JSON.parse(await ok(['get', 'cep', 'web', '-o', 'json'])) as { status: { networking: { addressing: { ipv4: string }[] } } };
    expect(cep.status.networking.addressing[0]!.ipv4).to.equal(webIP);

    const forward = spawn(join(cluster.binDir, 'kubectl'), ['port-forward', 'pod/web', ':8080'], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig } });
    try {
      let text = '';
      forward.stdout.on('data', (d) => (text += d));
      const port = await eventually(() => text.match(/127\.0\.0\.1:(\d+)/)?.[1], 'port-forward listening', 30_000);
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(body).to.equal('pong\n');
    } finally {
      forward.kill();
    }
  });

  it('restarts a crashing container and reports an image that is not there as ErrImagePull', async () => {
    const [n0] = cluster.config.nodes!;
    await ok(['apply', '-f', '-'], pod('crasher', n0!.name, { containers: [{ name: 'main', image: SHELL_IMAGE, command: ['sh', '-c', 'sleep 1; exit 3'] }] }));
    await ok(['apply', '-f', '-'], pod('absent', n0!.name, { containers: [{ name: 'main', image: 'localhost/ciliate/absent:1', command: ['sleep', '1'] }] }));
    await eventually(async () => Number((await ok(['get', 'pod', 'crasher', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}'])) || 0) >= 1, 'crasher restarted', 90_000);
    const reason = await eventually(async () => {
      const why = await ok(['get', 'pod', 'absent', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}']);
      return ['ErrImagePull', 'ImagePullBackOff'].includes(why) ? why : undefined;
    }, 'absent image reported', 60_000);
    expect(reason).to.be.oneOf(['ErrImagePull', 'ImagePullBackOff']);
  });

  it('restarts a node\'s kubelet and containerd when they die, and pods keep running', async () => {
    const node = cluster.config.nodes![0]!;
    const state = () => readState(clusterPaths(name, stateRoot).state)!;
    for (const component of [`kubelet-${node.name}`, `containerd-${node.name}`]) {
      const before = state().components[component]!.pid!;
      process.kill(before, 'SIGKILL');
      await eventually(() => {
        const c = state().components[component];
        return c && c.pid !== before && c.phase === 'running';
      }, `${component} restarted`, 60_000);
    }
    await ok(['wait', '--for=condition=Ready', '--timeout=120s', `node/${node.name}`]);
    await waitReady('lifecycle');
    // The kubelet's API server comes back a moment after it reports Ready.
    const file = await eventually(async () => {
      const r = await kubectl(['exec', 'lifecycle', '--', 'cat', '/scratch/file']);
      return r.code === 0 ? r.stdout : undefined;
    }, 'exec after the restart', 60_000);
    expect(file).to.equal('data\n');
  });

  it('down removes every process, mount, cgroup, namespace and file of the nodes, even after the supervisor crashed', async () => {
    const nodes = cluster.config.nodes!;
    const sockets = nodes.map((n) => runtimePaths(n.dir).containerdSocket);
    expect(sockets.flatMap(shimPids).length, 'shims running').to.be.greaterThan(0);
    const state = readState(clusterPaths(name, stateRoot).state)!;
    process.kill(state.supervisorPid, 'SIGKILL');
    const orphans = Object.values(state.components).map((c) => c.pid!).filter(alive);
    expect(orphans.length, 'components outlive their supervisor').to.be.greaterThan(0);
    await down({ name, stateRoot, quiet: true });
    // SIGKILL takes effect a moment later; a zombie waiting for its new parent runs nothing.
    const running = (pid: number) => {
      try {
        return alive(pid) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false; // gone between the two looks
      }
    };
    await eventually(() => orphans.filter(running).length === 0, 'every component gone', 10_000).catch(() => undefined);
    expect(orphans.filter(running), 'components left running').to.deep.equal([]);
    expect(sockets.flatMap(shimPids)).to.deep.equal([]);
    for (const n of nodes) {
      expect(nodeCgroupPids(n.name), `${n.name} cgroup processes`).to.deep.equal([]);
      expect(existsSync(join('/sys/fs/cgroup/memory', n.name)), `${n.name} memory cgroup`).to.equal(false);
      expect(existsSync(join('/sys/fs/cgroup/unified', n.name)), `${n.name} unified cgroup`).to.equal(false);
      expect(await linkExists(n.hostVeth)).to.equal(false);
    }
    expect(mountsUnder(stateRoot)).to.deep.equal([]);
    expect((await netnsNames()).filter((n) => isClusterNetns(name, n))).to.deep.equal([]);
    expect(existsSync(cluster.config.dir)).to.equal(false);
  });
});
