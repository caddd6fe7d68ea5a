// Ciliate installed by its Helm chart on real kubelet nodes (`up --install helm`): the agents and the
// operator are pods in kube-system, the nodes go Ready with Ciliate as their CNI, pods on two nodes
// talk and policy is enforced; `helm upgrade` rolls the agents one node at a time while a TCP
// stream and a denied probe keep their behaviour; the HTTP proxy runs in the cilium-envoy DaemonSet,
// so a keep-alive proxied connection keeps its 200 / 403 answers across an agent pod's deletion;
// `helm rollback`, and `helm uninstall` with cni.uninstall removing the CNI configuration from every node.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, type RunningCluster } from '../../cluster/cluster.ts';
import { CHART_DIR, RELEASE } from '../../cluster/helm-install.ts';
import { runtimePaths } from '../../cluster/kubelet-node/paths.ts';
import { podEndpoints, readFlows } from '../../cluster/pods.ts';
import { nodeHostDir, nodeMountNs } from '../../cluster/kubelet-node/mount-ns.ts';
import { CONFLIST_NAME } from '../../agent/node-setup/cni-install.ts';
import { NETWORK_UNAVAILABLE, REASON_UP } from '../../agent/node-setup/node-condition.ts';
import { ensureHubbleCli, hubbleCli } from '../support/hubble-cli.ts';
import { runCommand, uniqueClusterName, type CommandResult } from '../support/cluster.ts';
import { echoServer } from '../support/tcp-programs.ts';
import { eventually } from '../nodes/helpers.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';

/** A client that keeps one connection echoing until `stopFile` exists; prints "done <rounds>" (any stall over 5 s fails it). */
function streamUntil(ip: string, port: number, stopFile: string): string {
  return `
import socket, time, os
c = socket.create_connection(('${ip}', ${port}), timeout=5)
n = 0
while not os.path.exists('${stopFile}'):
    c.sendall(b'x'); assert c.recv(1) == b'x'; n += 1; time.sleep(0.02)
print('done', n, flush=True)
`;
}

/** A prober that tries a new connection to `ip`:`port` every 0.2 s until `stopFile` exists; prints "open" or "blocked" per try. */
function probeUntil(ip: string, port: number, stopFile: string): string {
  return `
import socket, time, os
while not os.path.exists('${stopFile}'):
    try:
        socket.create_connection(('${ip}', ${port}), timeout=1).close(); print('open', flush=True)
    except OSError:
        print('blocked', flush=True)
    time.sleep(0.2)
`;
}

/** The server admits the good pod only (L3). */
const ONLY_GOOD = {
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'only-good' },
  spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { role: 'good' } }] }] },
};

/**
 * A client that asks on one keep-alive HTTP connection, alternately an allowed GET /hostname (200)
 * and a denied GET /echo (403), until `stopFile` exists; prints "done <rounds> <local ports used>"
 * (a wrong answer or a stall over 5 s fails it).
 */
function keepAliveUntil(ip: string, port: number, stopFile: string): string {
  return `
import http.client, time, os
c = http.client.HTTPConnection('${ip}', ${port}, timeout=5)
n, ports = 0, set()
while not os.path.exists('${stopFile}'):
    for path, want in (('/hostname', 200), ('/echo?msg=x', 403)):
        c.request('GET', path); r = c.getresponse(); body = r.read()
        assert r.status == want, (path, r.status, body)
        ports.add(c.sock.getsockname()[1])
    n += 1; time.sleep(0.05)
print('done', n, len(ports), flush=True)
`;
}

describe('helm install of charts/ciliate on real kubelet nodes', function () {
  this.timeout(300_000);
  const name = uniqueClusterName('hi');
  const stateRoot = mkdtempSync(join(tmpdir(), 'ciliate-hi-'));
  const stopFile = join(stateRoot, 'stop');
  let cluster: RunningCluster;
  const children: ChildProcess[] = [];
  const tool = (t: 'kubectl' | 'helm', args: string[], input?: string): Promise<CommandResult> =>
    runCommand(join(cluster.binDir, t), args, { KUBECONFIG: cluster.kubeconfig }, input);
  const ok = async (args: string[], input?: string, t: 'kubectl' | 'helm' = 'kubectl'): Promise<string> => {
    const r = await tool(t, args, input);
    if (r.code !== 0) throw new Error(`${t} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const helm = (args: string[]) => ok([...args, '-n', RELEASE.namespace], undefined, 'helm');
  const nodeNames = () => cluster.config.nodes!.map((n) => n.name);
  /** The host pid of a pod's first container (its network namespace is the pod's), from the node's containerd. */
  const podPid = async (pod: string): Promise<number> => {
    const p = JSON.parse(await ok(['get', 'pod', pod, '-o', 'json'])) as { spec: { nodeName: string }; status: { containerStatuses: { containerID: string }[] } };
    const id = p.status.containerStatuses[0]!.containerID.replace(/^containerd:\/\//, '');
    const node = cluster.config.nodes!.find((n) => n.name === p.spec.nodeName)!;
    const r = await runCommand('ctr', ['--address', runtimePaths(node.dir).containerdSocket, '-n', 'k8s.io', 'task', 'ls']);
    const line = r.stdout.split('\n').find((l) => l.startsWith(id));
    if (!line) throw new Error(`no task for container ${id} of ${pod}`);
    return Number(line.trim().split(/\s+/)[1]);
  };
  const inPod = (pid: number, program: string) => {
    const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, 'python3', '-c', program], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    return { output: () => out, exited: new Promise<number | null>((r) => child.on('close', (code) => r(code))) };
  };
  const pod = (podName: string, node: string, labels: Record<string, string>) => JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, labels },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: AGNHOST, args: ['pause'] }] },
  });
  const podIP = async (p: string) => (await ok(['get', 'pod', p, '-o', 'jsonpath={.status.podIP}'])).trim();
  const curlFrom = (from: string, url: string) => tool('kubectl', ['exec', from, '--', 'curl', '-s', '-m', '3', url]);
  /** Waits for the agents' rollout, then returns their pods with creation and Ready times. */
  const agentRollout = async () => {
    await ok(['-n', RELEASE.namespace, 'rollout', 'status', 'daemonset/cilium', '--timeout=150s']);
    const pods = JSON.parse(await ok(['-n', RELEASE.namespace, 'get', 'pods', '-l', 'k8s-app=cilium', '-o', 'json'])).items as
      { metadata: { name: string; creationTimestamp: string }; status: { conditions: { type: string; lastTransitionTime: string }[] } }[];
    return pods.map((p) => ({
      name: p.metadata.name, created: Date.parse(p.metadata.creationTimestamp),
      ready: Date.parse(p.status.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime),
    })).sort((a, b) => a.created - b.created);
  };

  before(async () => {
    cluster = await up({ name, stateRoot, nodes: 2, install: 'helm', operator: true, quiet: true });
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await down({ name, stateRoot, quiet: true }).catch(() => undefined);
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('runs the agents and the operator as pods, readable with kubectl logs', async () => {
    const pods = JSON.parse(await ok(['-n', 'kube-system', 'get', 'pods', '-o', 'json'])).items as
      { metadata: { name: string; labels: Record<string, string> }; spec: { nodeName: string }; status: { phase: string } }[];
    const agents = pods.filter((p) => p.metadata.labels['k8s-app'] === 'cilium');
    expect(agents.map((p) => p.spec.nodeName).sort()).to.deep.equal(nodeNames().sort());
    expect(pods.filter((p) => p.metadata.labels['io.cilium/app'] === 'operator')).to.have.length(2);
    const proxies = pods.filter((p) => p.metadata.labels['k8s-app'] === 'cilium-envoy');
    expect(proxies.map((p) => p.spec.nodeName).sort(), 'the cilium-envoy DaemonSet').to.deep.equal(nodeNames().sort());
    for (const p of pods) expect(p.status.phase, p.metadata.name).to.equal('Running');
    const agentLog = await ok(['-n', 'kube-system', 'logs', agents[0]!.metadata.name, '-c', 'cilium-agent']);
    expect(agentLog).to.contain('CNI socket listening');
    expect(agentLog, 'written once ready').to.contain('CNI configuration written');
    const setupLog = await ok(['-n', 'kube-system', 'logs', agents[0]!.metadata.name, '-c', 'node-setup']);
    expect(setupLog).to.contain('CNI plugin installed');
    const leaders = await eventually(async () => {
      const logs = await ok(['-n', 'kube-system', 'logs', '-l', 'io.cilium/app=operator', '--tail=-1']);
      return logs.includes('became leader') ? logs : undefined;
    }, 'an operator replica leads');
    expect(leaders).to.contain('became leader');
  });

  it('brings the nodes Ready with Ciliate as their CNI, in each node\'s own folders', async () => {
    const nodes = JSON.parse(await ok(['get', 'nodes', '-o', 'json'])).items as { status: { conditions: { type: string; status: string; reason?: string }[] } }[];
    for (const n of nodes) {
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(n.status.conditions.find((c) => c.type === NETWORK_UNAVAILABLE), 'the agent marks the node network available').to.deep.include({ status: 'False', reason: REASON_UP });
    }
    for (const n of cluster.config.nodes!) {
      expect(readdirSync(nodeHostDir(n.dir, '/etc/cni/net.d'))).to.deep.equal([CONFLIST_NAME]);
      expect(readdirSync(nodeHostDir(n.dir, '/opt/cni/bin')).sort()).to.deep.equal(['ciliate-cni', 'loopback']);
      expect(existsSync(nodeMountNs(n.name)), 'the node has its own mount namespace').to.equal(true);
      for (const unused of [n.agentKubeconfig, n.cniConfDir, join(n.dir, 'cilium-config')]) expect(existsSync(unused), `no host-process agent file ${unused}`).to.equal(false);
    }
  });

  it('connects pods across nodes, directly and through a Service, and enforces policy', async () => {
    const [n0, n1] = nodeNames() as [string, string];
    await ok(['apply', '-f', '-'], [
      JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', labels: { app: 'server' } },
        spec: { nodeName: n1, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: AGNHOST, args: ['netexec', '--http-port=8080'] }] },
      }),
      pod('good', n0, { role: 'good' }), pod('bad', n0, { role: 'bad' }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'server' }, spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] } }),
    ].join('\n---\n'));
    await ok(['wait', '--for=condition=Ready', '--timeout=120s', 'pod/server', 'pod/good', 'pod/bad']);
    const ip = await podIP('server');
    expect((await curlFrom('good', `http://${ip}:8080/hostname`)).stdout).to.equal('server');
    expect((await curlFrom('bad', 'http://server.default.svc.cluster.local/hostname')).stdout).to.equal('server');
    await ok(['apply', '-f', '-'], JSON.stringify(ONLY_GOOD));
    await eventually(async () => (await curlFrom('bad', `http://${ip}:8080/hostname`)).code !== 0, 'the bad pod is denied');
    expect((await curlFrom('good', `http://${ip}:8080/hostname`)).stdout).to.equal('server');
    // What `ciliate observe` and `ciliate exec` read: the agents' state in each node's own /var/run/cilium.
    const badIP = await podIP('bad');
    const drop = await eventually(() => readFlows(cluster.config).find((f) => f.verdict === 'DROPPED' && f.srcIp === badIP && f.dstIp === ip), 'the drop is in the flow log');
    expect(drop.dropReason).to.equal(133);
    expect(podEndpoints(cluster.config).map((e) => e.name)).to.include.members(['server', 'good', 'bad']);
    const exec = await runCommand(join(import.meta.dirname, '..', '..', 'bin', 'ciliate'), ['exec', '--name', name, 'default/good', '--', 'curl', '-s', '-m', '3', `http://${ip}:8080/hostname`], { CILIATE_STATE_DIR: stateRoot });
    expect(exec.stdout, exec.stderr).to.equal('server');
    // The kernel's LB maps live in each node's own BPF filesystem: `bpf lb list` reads them from in there.
    const lb = await runCommand(join(import.meta.dirname, '..', '..', 'bin', 'ciliate'), ['bpf', 'lb', 'list', '--name', name], { CILIATE_STATE_DIR: stateRoot });
    expect(lb.code, lb.stderr).to.equal(0);
    for (const n of cluster.config.nodes!) expect(lb.stdout).to.match(new RegExp(`^${n.name} +10\\.96\\.0\\.1:443/TCP `, 'm'));
  });

  it('rolls the agents one node at a time on helm upgrade, keeping a TCP stream and a denial', async () => {
    const before = await agentRollout();
    const ip = await podIP('server');
    inPod(await podPid('server'), echoServer(9000));
    const [goodPid, badPid] = [await podPid('good'), await podPid('bad')];
    await eventually(async () => (await runCommand('nsenter', [`--net=/proc/${goodPid}/ns/net`, 'python3', '-c', `import socket; socket.create_connection(('${ip}', 9000), timeout=1)`])).code === 0, 'the echo server listens');
    const stream = inPod(goodPid, streamUntil(ip, 9000, stopFile));
    const probe = inPod(badPid, probeUntil(ip, 9000, stopFile));
    await helm(['upgrade', RELEASE.name, CHART_DIR, '--reuse-values', '--set', 'debug.enabled=true', '--set', 'updateStrategy.rollingUpdate.maxUnavailable=1']);
    const after = await agentRollout();
    writeFileSync(stopFile, '');
    expect(await stream.exited, `stream client: ${stream.output()}`).to.equal(0);
    expect(stream.output()).to.match(/^done \d+/);
    await probe.exited;
    expect(probe.output(), 'the denied probe never connected').to.not.contain('open');
    expect(probe.output()).to.contain('blocked');
    rmSync(stopFile);
    // Every agent was replaced, each new one created only once the one before it was Ready.
    expect(after.map((p) => p.name)).to.not.include.members(before.map((p) => p.name));
    for (let i = 1; i < after.length; i++) expect(after[i]!.created, `${after[i]!.name} after ${after[i - 1]!.name} was Ready`).to.be.at.least(after[i - 1]!.ready);
    expect((await ok(['-n', 'kube-system', 'get', 'configmap', 'cilium-config', '-o', 'jsonpath={.data.debug}'])).trim()).to.equal('true');
  });

  it('keeps a proxied keep-alive connection\'s answers across an agent pod deletion (the proxy is the cilium-envoy DaemonSet\'s)', async () => {
    const [, n1] = nodeNames() as [string, string];
    const ip = await podIP('server');
    const l7 = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'l7-hostname' },
      spec: {
        endpointSelector: { matchLabels: { app: 'server' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { role: 'good' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/hostname' }] } }] }],
      },
    };
    await ok(['apply', '-f', '-'], JSON.stringify(l7));
    await ok(['delete', 'ciliumnetworkpolicy', 'only-good']);
    const code = async (path: string) => (await tool('kubectl', ['exec', 'good', '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '3', `http://${ip}:8080${path}`])).stdout;
    await eventually(async () => (await code('/echo?msg=x')) === '403', 'the proxy denies /echo');
    const agentOf = async (node: string) => (await ok(['-n', RELEASE.namespace, 'get', 'pods', '-l', 'k8s-app=cilium', '--field-selector', `spec.nodeName=${node}`, '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const agent = await agentOf(n1);
    expect(await ok(['-n', RELEASE.namespace, 'logs', agent, '-c', 'cilium-agent']), 'the agent never starts a proxy').to.not.contain('http proxy process started');
    const client = inPod(await podPid('good'), keepAliveUntil(ip, 8080, stopFile));
    await ok(['-n', RELEASE.namespace, 'delete', 'pod', agent, '--wait=true']);
    const next = await eventually(async () => {
      const p = await agentOf(n1);
      return p && p !== agent ? p : undefined;
    }, 'the DaemonSet recreates the agent');
    await ok(['-n', RELEASE.namespace, 'wait', '--for=condition=Ready', '--timeout=150s', `pod/${next}`]);
    await eventually(async () => (await ok(['-n', RELEASE.namespace, 'logs', next, '-c', 'cilium-agent'])).includes('http proxy connected'), 'the new agent reaches the cilium-envoy proxy');
    writeFileSync(stopFile, '');
    expect(await client.exited, `keep-alive client: ${client.output()}`).to.equal(0);
    expect(client.output(), 'every answer right, on one connection').to.match(/^done \d+ 1$/m);
    rmSync(stopFile);
    expect(await code('/hostname')).to.equal('200');
    expect(await code('/echo?msg=x')).to.equal('403');
    await ok(['apply', '-f', '-'], JSON.stringify(ONLY_GOOD));
    await ok(['delete', 'ciliumnetworkpolicy', 'l7-hostname']);
  });

  it('runs the chart\'s hubble-relay Deployment: hubble status through the relay pod sees every node', async function () {
    if (!(await ensureHubbleCli())) this.skip();
    await helm(['upgrade', RELEASE.name, CHART_DIR, '--reuse-values', '--set', 'hubble.relay.enabled=true', '--wait', '--timeout', '150s']);
    await ok(['-n', RELEASE.namespace, 'rollout', 'status', 'deployment/hubble-relay', '--timeout=120s']);
    const relayIP = (await ok(['-n', RELEASE.namespace, 'get', 'pods', '-l', 'k8s-app=hubble-relay', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    const n0 = cluster.config.nodes![0]!;
    let status = '';
    await eventually(async () => {
      const r = await runCommand('nsenter', [`--net=/run/netns/${n0.netns}`, hubbleCli(), 'status', '--server', `${relayIP}:4245`], { HUBBLE_CONFIG: '/dev/null' });
      status = r.stdout + r.stderr;
      return /Connected Nodes: 2\/2/.test(status);
    }, 'the relay pod connected to both agents');
    expect(status).to.match(/Healthcheck \(via .*\): Ok/);
  });

  it('rolls back, and uninstalls leaving no CNI configuration when cni.uninstall is set', async () => {
    await helm(['rollback', RELEASE.name, '1']);
    await agentRollout();
    expect((await ok(['-n', 'kube-system', 'get', 'configmap', 'cilium-config', '-o', 'jsonpath={.data.debug}'])).trim()).to.equal('false');
    const ip = await podIP('server');
    expect((await curlFrom('good', `http://${ip}:8080/hostname`)).stdout).to.equal('server');
    expect((await curlFrom('bad', `http://${ip}:8080/hostname`)).code).to.not.equal(0);
    await helm(['upgrade', RELEASE.name, CHART_DIR, '--reuse-values', '--set', 'cni.uninstall=true']);
    await agentRollout();
    await helm(['uninstall', RELEASE.name, '--wait']);
    await eventually(async () => (await ok(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=cilium', '-o', 'name'])).trim() === '', 'the agent pods are gone');
    for (const n of cluster.config.nodes!) expect(readdirSync(nodeHostDir(n.dir, '/etc/cni/net.d')), n.name).to.deep.equal([]);
  });
});
