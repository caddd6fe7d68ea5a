// Pod plumbing (agent/veth.ts) against the kernel: the test's main thread stands in a throwaway node
// namespace (the agent runs inside its node's), a second throwaway namespace is the pod's. What plumb
// promises is read back with `ip -j`; CHECK notices what goes missing; unplumb is idempotent; a failed
// plumb leaves nothing and names the operation that failed.
import { expect } from 'chai';
import { endpointMacs, hostIfName, hostLinkExists, macOf, plumb, POD_GATEWAY, unplumb, verifyPlumbing } from '../../agent/veth.ts';
import { requireBpf } from '../datapath/support/env.ts';
import { enterNetns, makeNamespaces, sh, uniqueSuffix } from '../datapath/support/netns.ts';

/** `ip -n ns -j args` parsed. */
const ipJson = <T>(ns: string, ...args: string[]): T => JSON.parse(sh('ip', '-n', ns, '-j', ...args)) as T;

interface IpLink { ifindex: number; ifname: string; address: string; mtu: number; flags: string[] }

describe('veth plumbing over route netlink', function () {
  const suffix = uniqueSuffix();
  const nodeNs = `civN${suffix}`, podNs = `civP${suffix}`;
  const podPath = `/run/netns/${podNs}`;
  const owner = `veth-test-${suffix}/eth0`;
  const hostIf = hostIfName(owner);
  const ip = '10.252.1.9';
  const plumbOpts = { owner, netnsPath: podPath, ifName: 'eth0', ip, mtu: 1450 };
  let destroy: (() => void) | undefined;
  let leave: (() => void) | undefined;

  before(function () {
    requireBpf(this);
    destroy = makeNamespaces([nodeNs, podNs]);
    leave = enterNetns(`/run/netns/${nodeNs}`);
  });

  after(function () {
    leave?.();
    destroy?.();
  });

  it('plumbs: both MACs and MTUs, links up, the /32, the gateway routes, its pinned MAC, the node route', async function () {
    const macs = endpointMacs(owner);
    expect(await plumb(plumbOpts)).to.deep.equal({ hostIf, hostMac: macs.host, podMac: macs.pod });

    const [host] = ipJson<IpLink[]>(nodeNs, 'link', 'show', 'dev', hostIf);
    expect(host).to.include({ address: macs.host, mtu: 1450 });
    expect(host!.flags).to.include.members(['UP', 'LOWER_UP']);
    const [pod] = ipJson<(IpLink & { addr_info: { family: string; local: string; prefixlen: number }[] })[]>(podNs, 'addr', 'show', 'dev', 'eth0');
    expect(pod).to.include({ address: macs.pod, mtu: 1450 });
    expect(pod!.flags).to.include.members(['UP', 'LOWER_UP']);
    expect(pod!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).to.deep.equal([`${ip}/32`]);
    expect(ipJson<IpLink[]>(podNs, 'link', 'show', 'dev', 'lo')[0]!.flags).to.include('UP');
    expect(ipJson(podNs, 'route', 'show')).to.deep.equal([
      { dst: 'default', gateway: POD_GATEWAY, dev: 'eth0', flags: [] },
      { dst: POD_GATEWAY, dev: 'eth0', scope: 'link', flags: [] },
    ]);
    expect(ipJson(podNs, 'neigh', 'show', 'dev', 'eth0')).to.deep.equal([{ dst: POD_GATEWAY, lladdr: macs.host, state: ['PERMANENT'] }]);
    expect(ipJson(nodeNs, 'route', 'show', `${ip}/32`)).to.deep.equal([{ dst: ip, dev: hostIf, scope: 'link', flags: [] }]);

    expect(await hostLinkExists(hostIf)).to.equal(true);
    expect(await macOf(hostIf)).to.equal(macs.host);
    expect(await macOf('eth0', podPath)).to.equal(macs.pod);
    expect(await verifyPlumbing({ hostIf, netnsPath: podPath, ifName: 'eth0', ip })).to.equal(undefined);
  });

  it('CHECK names what went missing: the pod default route, the node route, the address', async function () {
    const check = () => verifyPlumbing({ hostIf, netnsPath: podPath, ifName: 'eth0', ip });
    sh('ip', '-n', podNs, 'route', 'del', 'default');
    expect(await check()).to.equal(`no default route via ${POD_GATEWAY}`);
    await plumb(plumbOpts);
    sh('ip', '-n', nodeNs, 'route', 'del', `${ip}/32`);
    expect(await check()).to.equal(`the node has no route for ${ip} via ${hostIf}`);
    await plumb(plumbOpts);
    sh('ip', '-n', podNs, 'addr', 'del', `${ip}/32`, 'dev', 'eth0');
    expect(await check()).to.equal(`eth0 does not have ${ip}/32`);
    expect(await verifyPlumbing({ hostIf, netnsPath: podPath, ifName: 'eth1', ip })).to.equal(`interface eth1 in ${podPath} is missing`);
    expect(await verifyPlumbing({ hostIf, netnsPath: `/run/netns/none${suffix}`, ifName: 'eth0', ip })).to.match(/is missing: .*ENOENT/);
  });

  it('plumbs again over what an earlier ADD left', async function () {
    await plumb(plumbOpts);
    await plumb(plumbOpts);
    expect(await verifyPlumbing({ hostIf, netnsPath: podPath, ifName: 'eth0', ip })).to.equal(undefined);
    expect(ipJson<IpLink[]>(nodeNs, 'link', 'show').filter((l) => l.ifname === hostIf)).to.have.length(1);
  });

  it('unplumbs the pair, its peer and the node route, and unplumbing again is fine', async function () {
    await unplumb(hostIf);
    expect(await hostLinkExists(hostIf)).to.equal(false);
    expect(ipJson<IpLink[]>(podNs, 'link', 'show').map((l) => l.ifname)).to.deep.equal(['lo']);
    expect(ipJson(nodeNs, 'route', 'show', `${ip}/32`)).to.deep.equal([]);
    await unplumb(hostIf);
    expect(await verifyPlumbing({ hostIf, netnsPath: podPath, ifName: 'eth0', ip })).to.equal(`host interface ${hostIf} is missing`);
    await expectRejection(macOf(hostIf), `no link ${hostIf}`);
  });

  it('fails naming the operation when the pod already has the interface, leaving nothing on the node', async function () {
    sh('ip', '-n', podNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'taken0');
    try {
      await expectRejection(plumb(plumbOpts), `RTM_NEWLINK ${hostIf}: EEXIST (file already exists`);
      expect(await hostLinkExists(hostIf)).to.equal(false);
    } finally {
      sh('ip', '-n', podNs, 'link', 'del', 'eth0');
    }
  });

  it('removes the pair when configuring the pod fails after it was made', async function () {
    await expectRejection(plumb({ ...plumbOpts, ip: '10.252.1.300' }), 'invalid IPv4');
    expect(await hostLinkExists(hostIf)).to.equal(false);
    expect(ipJson<IpLink[]>(podNs, 'link', 'show').map((l) => l.ifname)).to.deep.equal(['lo']);
  });
});

/** Awaits a promise that must reject with a message containing `text`. */
async function expectRejection(promise: Promise<unknown>, text: string): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, 'rejection').to.be.instanceOf(Error);
  expect((err as Error).message).to.contain(text);
}
