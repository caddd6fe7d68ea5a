// The CNI plugin against a real node agent, called exactly as a container runtime calls it: ADD builds
// the veth pair, /32 address, routes and MTU; CHECK verifies them; DEL removes them and is idempotent;
// STATUS reports the agent ready. The test sandbox is a network namespace named like a pod's, so
// `down` would sweep it even if the test died half-way.
import { expect } from 'chai';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { run } from '../../runtime/exec.ts';
import { deleteNetns, netnsPath } from '../../cluster/nodes.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { CniClient, loadConfList, type Attachment } from '../../nodes/cni-invoke.ts';
import { podNetnsName } from '../../nodes/sandbox.ts';
import { hostIfName, POD_GATEWAY } from '../../agent/veth.ts';
import { contains } from '../../agent/ipv4.ts';
import type { CniResult } from '../../cni/spec.ts';
import { nodesKubectl, runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { linksIn, nodePodCIDR } from './helpers.ts';

// The native relay, as the node's cni-path finds it first.
const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'cni', 'ciliate-cni');

describe('ciliate-cni with a node agent', function () {
  this.timeout(120_000);
  let node: NodeConfig;
  let cni: CniClient;
  let netns: string;
  let attachment: Attachment;
  let result: CniResult;
  const containerId = `cnitest-${Math.random().toString(36).slice(2, 8)}`;
  const inPod = (args: string[]) => run('nsenter', [`--net=${netnsPath(netns)}`, '--', ...args]);

  before(async function () {
    this.timeout(300_000);
    const c = await testRealNodesCluster();
    node = c.config.nodes![0]!;
    cni = new CniClient(node.cniConfDir, readFileSync(join(node.dir, 'cni-path'), 'utf8').trim().split(':'));
    netns = podNetnsName(node.netns, containerId);
    await run('ip', ['netns', 'add', netns]);
    // The pod the CNI call is for (the agent reads its labels for its identity); bound to a node no
    // kubelet serves, so only this test plumbs it.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'test', namespace: 'cni' }, spec: { nodeName: 'nowhere', containers: [{ name: 'c', image: 'none' }] } };
    await nodesKubectl(['create', 'namespace', 'cni']);
    const created = await nodesKubectl(['apply', '-f', '-'], JSON.stringify(pod));
    expect(created.code, created.stderr).to.equal(0);
    attachment = { containerId, netns: netnsPath(netns), ifName: 'eth0', args: { K8S_POD_NAMESPACE: 'cni', K8S_POD_NAME: 'test' } };
  });

  after(async () => {
    if (attachment) await cni.del(attachment).catch(() => undefined);
    if (netns) await deleteNetns(netns);
    await nodesKubectl(['delete', 'namespace', 'cni', '--wait=false']);
  });

  it('STATUS succeeds once the agent knows its pod CIDR', async () => {
    expect(readFileSync(join(node.dir, 'cni-path'), 'utf8').trim().split(':')[0]).to.equal(dirname(PLUGIN));
    await cni.status();
  });

  it('ADD returns a 1.0.0 result and plumbs the pod: /32, default route via the gateway, MTU, host veth and route', async () => {
    result = await cni.add(attachment);
    expect(result.cniVersion).to.equal('1.0.0');
    const hostIf = hostIfName(`${containerId}/eth0`);
    expect(result.interfaces).to.have.length(2);
    expect(result.interfaces![0]).to.include({ name: hostIf });
    expect(result.interfaces![1]).to.include({ name: 'eth0', sandbox: netnsPath(netns) });
    const ip = result.ips![0]!.address.split('/')[0]!;
    expect(result.ips![0]).to.include({ address: `${ip}/32`, gateway: POD_GATEWAY, interface: 1 });
    expect(contains(await nodePodCIDR(node.name), ip)).to.be.true;
    expect(result.routes).to.deep.equal([{ dst: '0.0.0.0/0', gw: POD_GATEWAY }]);

    const [eth0] = JSON.parse(await inPod(['ip', '-j', 'addr', 'show', 'dev', 'eth0'])) as { mtu: number; operstate: string; addr_info: { local: string; prefixlen: number }[] }[];
    expect(eth0!.mtu).to.equal(1500);
    expect(eth0!.addr_info.some((a) => a.local === ip && a.prefixlen === 32)).to.be.true;
    expect(await inPod(['ip', 'route', 'show', 'default'])).to.contain(`via ${POD_GATEWAY} dev eth0`);
    expect(await linksIn(node.netns)).to.include(hostIf);
    expect(await run('ip', ['-n', node.netns, 'route', 'show', `${ip}/32`])).to.contain(`dev ${hostIf}`);
    // The pod reaches its node, and the node answers through the host veth.
    const srv = run('nsenter', [`--net=${netnsPath(node.netns)}`, '--', 'timeout', '10', 'nc', '-l', '-N', node.address, '47001']);
    await new Promise((r) => setTimeout(r, 300));
    await inPod(['sh', '-c', `echo hello | timeout 5 nc -N ${node.address} 47001`]);
    expect((await srv).trim()).to.equal('hello');
  });

  it('CHECK succeeds on an intact endpoint and fails in the spec format once it is broken', async () => {
    await cni.check(attachment, result);
    const list = loadConfList(node.cniConfDir);
    const conf = JSON.stringify({ ...list.plugins[0], cniVersion: list.cniVersion, name: list.name, prevResult: result });
    const env = { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: containerId, CNI_NETNS: netnsPath(netns), CNI_IFNAME: 'eth0', CNI_PATH: dirname(PLUGIN) };
    expect(await runCommand(PLUGIN, [], env, conf)).to.include({ code: 0, stdout: '' });
    await inPod(['ip', 'route', 'del', 'default']);
    const broken = await runCommand(PLUGIN, [], env, conf);
    expect(broken.code).to.equal(1);
    expect(JSON.parse(broken.stdout)).to.include({ cniVersion: '1.0.0', code: 100 });
  });

  it('DEL removes the veth, route and address, and a second DEL succeeds too', async () => {
    const ip = result.ips![0]!.address.split('/')[0]!;
    const hostIf = hostIfName(`${containerId}/eth0`);
    await cni.del(attachment, result);
    expect(await linksIn(node.netns)).to.not.include(hostIf);
    expect(await linksIn(netns)).to.deep.equal(['lo']);
    const ipam = JSON.parse(readFileSync(join(node.dir, 'agent', 'ipam.json'), 'utf8')) as { allocations: Record<string, string> };
    expect(ipam.allocations).to.not.have.property(ip);
    await cni.del(attachment, result);
    await cni.del({ ...attachment, netns: '' });
  });

  it('DEL of a container the agent never saw succeeds', async () => {
    await cni.del({ ...attachment, containerId: `${containerId}-never` });
  });
});
