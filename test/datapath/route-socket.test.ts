// RouteSocket against the kernel, in two throwaway namespaces: a veth pair made across them, links,
// addresses, routes and a permanent neighbour checked with `ip -j`, refusals naming the operation,
// and the socket's life (its namespace, the worker-thread deletion, close).
import { expect } from 'chai';
import { RouteSocket } from '../../datapath/netlink/route-socket.ts';
import { NetlinkError } from '../../datapath/netlink/errors.ts';
import { RT_SCOPE, RT_TABLE } from '../../datapath/netlink/constants.ts';
import { closeSync, openSync } from 'node:fs';
import { requireBpf } from './support/env.ts';
import { makeNamespaces, sh, uniqueSuffix } from './support/netns.ts';

/** `ip -n ns -j args` parsed. */
const ipJson = <T>(ns: string, ...args: string[]): T => JSON.parse(sh('ip', '-n', ns, '-j', ...args)) as T;

describe('RouteSocket', function () {
  const suffix = uniqueSuffix();
  const nsA = `cirsA${suffix}`, nsB = `cirsB${suffix}`;
  const vethA = `rsa${suffix}`, vethB = `rsb${suffix}`;
  let destroy: (() => void) | undefined;
  let a: RouteSocket;
  let b: RouteSocket;

  before(function () {
    requireBpf(this);
    destroy = makeNamespaces([nsA, nsB]);
    a = RouteSocket.open(`/run/netns/${nsA}`);
    b = RouteSocket.open(`/run/netns/${nsB}`);
  });

  after(function () {
    a?.close();
    b?.close();
    destroy?.();
  });

  it('creates a veth pair with its peer directly in another namespace, MACs and MTUs set, this end up', function () {
    const fd = openSync(`/run/netns/${nsB}`, 'r');
    try {
      a.createVeth({ name: vethA, mac: '02:00:5e:00:00:0a', mtu: 1400, up: true, peer: { name: vethB, mac: '06:00:5e:00:00:0b', mtu: 1400, netnsFd: fd } });
    } finally {
      closeSync(fd);
    }
    const [hostSide] = ipJson<{ address: string; mtu: number; flags: string[] }[]>(nsA, 'link', 'show', 'dev', vethA);
    expect(hostSide).to.include({ address: '02:00:5e:00:00:0a', mtu: 1400 });
    expect(hostSide!.flags).to.include('UP');
    const [peer] = ipJson<{ address: string; mtu: number; flags: string[] }[]>(nsB, 'link', 'show', 'dev', vethB);
    expect(peer).to.include({ address: '06:00:5e:00:00:0b', mtu: 1400 });
    expect(peer!.flags).to.not.include('UP');
  });

  it('looks links up by name in its own namespace, whatever namespace the thread is in', function () {
    const [kernel] = ipJson<{ ifindex: number }[]>(nsA, 'link', 'show', 'dev', vethA);
    expect(a.link(vethA)).to.deep.include({ index: kernel!.ifindex, name: vethA, mac: '02:00:5e:00:00:0a', mtu: 1400, up: true });
    expect(b.link(vethA)).to.equal(undefined);
    expect(() => b.requireLink(vethA)).to.throw(NetlinkError, new RegExp(`^RTM_GETLINK ${vethA}: ENODEV \\(no such device`));
  });

  it('refuses to create a taken name, naming the operation and the errno', function () {
    try {
      a.createVeth({ name: vethA, mac: '02:00:5e:00:00:0c', mtu: 1500, peer: { name: `x${vethB}`, mac: '06:00:5e:00:00:0c', mtu: 1500 } });
      expect.fail('created twice');
    } catch (err) {
      expect(err).to.be.instanceOf(NetlinkError).and.include({ code: 'EEXIST', errno: -17, syscall: 'netlink' });
      expect((err as Error).message).to.match(new RegExp(`^RTM_NEWLINK ${vethA}: EEXIST \\(file already exists`));
    }
  });

  it('brings a link up, puts an address, routes and a permanent neighbour on it, and lists them', function () {
    b.setLinkUp(vethB);
    const dev = b.requireLink(vethB);
    expect(dev.up).to.equal(true);
    b.addAddress(dev, '10.252.0.7/32');
    b.addAddress(dev, '10.252.0.7/32');
    b.replaceRoute({ dst: '169.254.1.1/32', dev });
    b.replaceRoute({ dst: '0.0.0.0/0', via: '169.254.1.1', dev });
    b.replacePermanentNeighbour({ dev, ip: '169.254.1.1', mac: '02:00:5e:00:00:0a' });

    const [addrs] = ipJson<{ addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[]>(nsB, 'addr', 'show', 'dev', vethB);
    const v4 = addrs!.addr_info.filter((x) => x.family === 'inet').map(({ local, prefixlen, scope }) => ({ local, prefixlen, scope }));
    expect(v4).to.deep.equal([{ local: '10.252.0.7', prefixlen: 32, scope: 'global' }]);
    // Exactly what `ip route add` makes (protocol boot is the one `ip` does not print).
    expect(ipJson(nsB, 'route', 'show')).to.deep.equal([
      { dst: 'default', gateway: '169.254.1.1', dev: vethB, flags: [] },
      { dst: '169.254.1.1', dev: vethB, scope: 'link', flags: [] },
    ]);
    const neigh = ipJson<{ dst: string; lladdr: string; state: string[] }[]>(nsB, 'neigh', 'show', 'dev', vethB);
    expect(neigh).to.deep.equal([{ dst: '169.254.1.1', lladdr: '02:00:5e:00:00:0a', state: ['PERMANENT'] }]);

    expect(b.addresses(dev.index)).to.deep.equal([{ index: dev.index, local: '10.252.0.7', prefixLen: 32, scope: RT_SCOPE.UNIVERSE }]);
    const main = b.routes().filter((r) => r.table === RT_TABLE.MAIN);
    expect(main).to.deep.include({ dst: '0.0.0.0/0', dstLen: 0, gateway: '169.254.1.1', oif: dev.index, table: RT_TABLE.MAIN, protocol: 3, scope: RT_SCOPE.UNIVERSE, type: 1 });
    expect(main).to.deep.include({ dst: '169.254.1.1/32', dstLen: 32, oif: dev.index, table: RT_TABLE.MAIN, protocol: 3, scope: RT_SCOPE.LINK, type: 1 });
  });

  it('passes on the kernel explanation of a refused route', function () {
    const dev = b.requireLink(vethB);
    expect(() => b.replaceRoute({ dst: '10.253.0.0/16', via: '192.0.2.99', dev })).to.throw(NetlinkError, /^RTM_NEWROUTE 10\.253\.0\.0\/16 via 192\.0\.2\.99 dev \S+: ENETUNREACH \(network is unreachable; kernel: .+\)$/);
  });

  it('deletes on a worker thread, refusing other use meanwhile; a missing link is no error', async function () {
    const deleting = a.deleteLinkAsync(vethA);
    expect(() => a.link(vethA)).to.throw(/busy with an exchange on a worker thread/);
    expect(await deleting).to.equal(true);
    expect(await a.deleteLinkAsync(vethA)).to.equal(false);
    expect(a.deleteLink(vethA)).to.equal(false);
    expect(b.link(vethB), 'the peer went with it').to.equal(undefined);
  });

  it('closes after a pending worker-thread exchange settles, and refuses use once closed', async function () {
    const s = RouteSocket.open(`/run/netns/${nsA}`);
    const deleting = s.deleteLinkAsync(`none${suffix}`);
    s.close();
    expect(await deleting).to.equal(false);
    expect(() => s.link('lo')).to.throw(/^RTM_GETLINK lo: the route socket is closed$/);
    s.close();
  });

  it('fails to open in a namespace that does not exist with the errno of the path', function () {
    expect(() => RouteSocket.open(`/run/netns/none${suffix}`)).to.throw(/ENOENT/);
  });
});
