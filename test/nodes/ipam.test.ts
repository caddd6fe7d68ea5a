// Host-local IPAM: allocation order, reserved addresses, persistence, release and exhaustion.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostLocalIpam, IpamExhaustedError } from '../../agent/ipam.ts';
import { contains, intToIp, ipToInt, parsePrefix } from '../../agent/ipv4.ts';

describe('host-local IPAM', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ipam-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses and formats IPv4', () => {
    expect(intToIp(ipToInt('10.244.3.7'))).to.equal('10.244.3.7');
    expect(parsePrefix('10.244.3.7/24')).to.deep.equal({ base: ipToInt('10.244.3.0'), bits: 24 });
    expect(contains('10.244.3.0/24', '10.244.3.255')).to.be.true;
    expect(contains('10.244.3.0/24', '10.244.4.0')).to.be.false;
    expect(() => ipToInt('10.244.300.1')).to.throw();
  });

  it('skips the network, first and broadcast addresses and gives an owner the same address again', () => {
    const ipam = new HostLocalIpam(join(dir, 'ipam.json'));
    expect(ipam.allocate('a/eth0', ['10.244.0.0/24'])).to.equal('10.244.0.2');
    expect(ipam.allocate('b/eth0', ['10.244.0.0/24'])).to.equal('10.244.0.3');
    expect(ipam.allocate('a/eth0', ['10.244.0.0/24'])).to.equal('10.244.0.2');
    expect(ipam.free(['10.244.0.0/24'])).to.equal(256 - 3 - 2);
  });

  it('keeps allocations across restarts and releases idempotently', () => {
    const path = join(dir, 'ipam.json');
    const first = new HostLocalIpam(path);
    first.allocate('a/eth0', ['10.244.0.0/24']);
    const second = new HostLocalIpam(path);
    expect(second.addressOf('a/eth0')).to.equal('10.244.0.2');
    expect(second.allocate('b/eth0', ['10.244.0.0/24'])).to.not.equal('10.244.0.2');
    expect(second.release('a/eth0')).to.equal('10.244.0.2');
    expect(second.release('a/eth0')).to.equal(undefined);
    expect(new HostLocalIpam(path).addressOf('a/eth0')).to.equal(undefined);
  });

  it('fails when the CIDR is exhausted, and with no CIDR', () => {
    const ipam = new HostLocalIpam(join(dir, 'ipam.json'));
    const cidr = ['10.0.0.0/29'];
    const got = Array.from({ length: 5 }, (_, i) => ipam.allocate(`c${i}/eth0`, cidr));
    expect(got).to.deep.equal(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(() => ipam.allocate('x/eth0', cidr)).to.throw(IpamExhaustedError);
    expect(() => ipam.allocate('x/eth0', [])).to.throw(IpamExhaustedError);
  });
});
