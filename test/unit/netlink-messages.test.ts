// Route netlink encoding and decoding, byte for byte against layouts written out by hand from the
// kernel UAPI structs (nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, ndmsg, rtattr; host order = little-endian).
import { expect } from 'chai';
import { decodeAttributes, encodeAttributes } from '../../datapath/netlink/attributes.ts';
import { encodeMessage, splitMessages } from '../../datapath/netlink/message.ts';
import { createVethRequest, decodeLink, deleteLinkRequest, getLinkRequest, setLinkUpRequest } from '../../datapath/netlink/links.ts';
import { addAddressRequest, decodeAddress } from '../../datapath/netlink/addresses.ts';
import { decodeRoute, replaceRouteRequest } from '../../datapath/netlink/routes.ts';
import { replacePermanentNeighbourRequest } from '../../datapath/netlink/neighbours.ts';
import { NetlinkError, refusalOf } from '../../datapath/netlink/errors.ts';
import { NLM_F, NLMSG, RTM } from '../../datapath/netlink/constants.ts';
import { stringValue } from '../../datapath/netlink/values.ts';
import { isErrno } from '../../datapath/errors.ts';

/** Bytes from hex written with spaces between fields. */
const hex = (...parts: string[]): Buffer => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
const eth0 = { index: 5, name: 'eth0' };

describe('route netlink messages', () => {
  describe('attributes', () => {
    it('pads each value to 4 bytes, the length counting header and value only', () => {
      expect(encodeAttributes([[3, stringValue('eth0')]])).to.deep.equal(hex('0900 0300', '65746830 00', '000000'));
    });

    it('nests attributes inside an attribute', () => {
      const bytes = encodeAttributes([[18, [[1, stringValue('veth')]]]]);
      expect(bytes).to.deep.equal(hex('1000 1200', '0900 0100 76657468 00 000000'));
      const outer = decodeAttributes(bytes);
      expect(decodeAttributes(outer.get(18)!).get(1)).to.deep.equal(stringValue('veth'));
    });

    it('decodes types without the nested and byte-order flags, and rejects an overrunning length', () => {
      expect([...decodeAttributes(hex('0800 1a80 01020304')).keys()]).to.deep.equal([26]);
      expect(() => decodeAttributes(hex('0c00 0100 01020304'))).to.throw(/malformed netlink attribute/);
    });
  });

  describe('nlmsghdr', () => {
    it('encodes length, type, flags, sequence number and port 0 before the body', () => {
      expect(encodeMessage(RTM.GETLINK, NLM_F.REQUEST | NLM_F.ACK, 7, hex('aabbcc'))).to.deep.equal(
        hex('13000000', '1200', '0500', '07000000', '00000000', 'aabbcc', '00'));
    });

    it('splits received bytes into padded messages and rejects a truncated one', () => {
      const two = Buffer.concat([encodeMessage(NLMSG.NOOP, 0, 1, hex('01')), encodeMessage(NLMSG.DONE, NLM_F.MULTI, 2, hex('00000000'))]);
      expect(splitMessages(two).map((m) => [m.type, m.flags, m.seq, m.body.length])).to.deep.equal([[1, 0, 1, 1], [3, 2, 2, 4]]);
      expect(() => splitMessages(two.subarray(0, 30))).to.throw(/malformed netlink message/);
    });
  });

  describe('link requests', () => {
    it('creates a veth pair: both names, MACs and MTUs, this end up, the peer in another namespace', () => {
      const req = createVethRequest({
        name: 'lxc1', mac: '02:00:00:00:00:01', mtu: 1500, up: true,
        peer: { name: 'eth0', mac: '06:00:00:00:00:02', mtu: 1500, netnsFd: 7 },
      });
      expect(req).to.include({ type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, subject: 'lxc1' });
      expect(req.body).to.deep.equal(hex(
        '00 00 0000 00000000 01000000 01000000', // ifinfomsg: AF_UNSPEC, index 0, flags IFF_UP, change IFF_UP
        '0900 0300 6c786331 00 000000', // IFLA_IFNAME "lxc1"
        '0a00 0100 020000000001 0000', // IFLA_ADDRESS
        '0800 0400 dc050000', // IFLA_MTU 1500
        '5000 1200', // IFLA_LINKINFO (80 bytes)
        '0900 0100 76657468 00 000000', //   IFLA_INFO_KIND "veth"
        '4000 0200', //   IFLA_INFO_DATA (64 bytes)
        '3c00 0100', //     VETH_INFO_PEER (60 bytes): ifinfomsg then the peer's attributes
        '00 00 0000 00000000 00000000 00000000',
        '0900 0300 65746830 00 000000', //       IFLA_IFNAME "eth0"
        '0a00 0100 060000000002 0000', //       IFLA_ADDRESS
        '0800 0400 dc050000', //       IFLA_MTU
        '0800 1c00 07000000', //       IFLA_NET_NS_FD 7
      ));
    });

    it('gets, sets up and deletes a link by name', () => {
      expect(getLinkRequest('eth0')).to.deep.equal({
        type: RTM.GETLINK, flags: 0, subject: 'eth0',
        body: hex('00'.repeat(16), '0900 0300 65746830 00 000000', '0800 1d00 08000000'), // IFLA_EXT_MASK: skip stats
      });
      expect(setLinkUpRequest('lo', true).body).to.deep.equal(hex('00 00 0000 00000000 01000000 01000000', '0700 0300 6c6f00 00'));
      expect(setLinkUpRequest('lo', false).body.subarray(8, 16)).to.deep.equal(hex('00000000 01000000'));
      expect(deleteLinkRequest('eth0')).to.deep.include({ type: RTM.DELLINK, flags: 0, subject: 'eth0' });
    });

    it('decodes a link answer: index, name, MAC, MTU, flags; unknown attributes are skipped', () => {
      const link = decodeLink(hex(
        '00 00 0100 05000000 43100100 00000000', // ARPHRD_ETHER, index 5, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
        '0900 0300 65746830 00 000000',
        '0800 1a80 04000000', // a nested attribute of no interest
        '0800 0400 78050000', // MTU 1400
        '0a00 0100 06aabbccddee 0000',
      ));
      expect(link).to.deep.equal({ index: 5, name: 'eth0', mac: '06:aa:bb:cc:dd:ee', mtu: 1400, flags: 0x11043, up: true });
    });
  });

  describe('address, route and neighbour requests', () => {
    it('adds an IPv4 address with equal local and peer address', () => {
      const req = addAddressRequest(eth0, '10.0.0.5/32');
      expect(req).to.include({ type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.REPLACE, subject: '10.0.0.5/32 dev eth0' });
      expect(req.body).to.deep.equal(hex('02 20 00 00 05000000', '0800 0200 0a000005', '0800 0100 0a000005'));
    });

    it('replaces an on-link route and a default route via a gateway in the main table, protocol boot', () => {
      const onLink = replaceRouteRequest({ dst: '169.254.1.1/32', dev: eth0 });
      expect(onLink).to.include({ type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.REPLACE, subject: '169.254.1.1/32 dev eth0' });
      // rtmsg: AF_INET, /32, src 0, tos 0, table main, RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST, flags 0
      expect(onLink.body).to.deep.equal(hex('02 20 00 00 fe 03 fd 01 00000000', '0800 0100 a9fe0101', '0800 0400 05000000'));
      const dflt = replaceRouteRequest({ dst: '0.0.0.0/0', via: '169.254.1.1', dev: eth0 });
      expect(dflt.subject).to.equal('0.0.0.0/0 via 169.254.1.1 dev eth0');
      expect(dflt.body).to.deep.equal(hex('02 00 00 00 fe 03 00 01 00000000', '0800 0500 a9fe0101', '0800 0400 05000000'));
    });

    it('pins a permanent neighbour entry', () => {
      const req = replacePermanentNeighbourRequest({ dev: eth0, ip: '169.254.1.1', mac: '02:aa:bb:cc:dd:ee' });
      expect(req).to.include({ type: RTM.NEWNEIGH, flags: NLM_F.CREATE | NLM_F.REPLACE });
      // ndmsg: AF_INET, padding, index 5, NUD_PERMANENT, flags 0, RTN_UNICAST
      expect(req.body).to.deep.equal(hex('02 00 0000 05000000 8000 00 01', '0800 0100 a9fe0101', '0a00 0200 02aabbccddee 0000'));
    });

    it('rejects a malformed MAC address before anything is sent', () => {
      expect(() => replacePermanentNeighbourRequest({ dev: eth0, ip: '169.254.1.1', mac: '02:aa' })).to.throw(/invalid MAC/);
    });

    it('decodes address and route answers', () => {
      expect(decodeAddress(hex('02 20 00 00 05000000', '0800 0100 0a000005', '0800 0200 0a000005'))).to.deep.equal({ index: 5, local: '10.0.0.5', prefixLen: 32, scope: 0 });
      expect(decodeAddress(hex('0a 80 00 00 05000000'))).to.equal(undefined);
      expect(decodeRoute(hex('02 00 00 00 fe 03 00 01 00000000', '0800 0f00 fe000000', '0800 0500 a9fe0101', '0800 0400 05000000'))).to.deep.equal({
        dst: '0.0.0.0/0', dstLen: 0, gateway: '169.254.1.1', oif: 5, table: 254, protocol: 3, scope: 0, type: 1,
      });
    });
  });

  describe('refusals', () => {
    const errorMessage = (errno: number, flags: number, tail: Buffer) => splitMessages(encodeMessage(NLMSG.ERROR, flags, 9, Buffer.concat([
      Buffer.from(Int32Array.of(errno).buffer), hex('90000000 1000 0506 09000000 00000000'), tail,
    ])))[0]!;

    it('names the operation, the errno and the kernel explanation (extended ack after a capped echo)', () => {
      const refusal = refusalOf(errorMessage(-17, NLM_F.CAPPED | NLM_F.ACK_TLVS, encodeAttributes([[1, stringValue('link exists')]])), 'RTM_NEWLINK lxc1234');
      expect(refusal).to.be.instanceOf(NetlinkError);
      expect(refusal!.message).to.equal('RTM_NEWLINK lxc1234: EEXIST (file already exists; kernel: link exists)');
      expect(refusal).to.include({ code: 'EEXIST', errno: -17, syscall: 'netlink', operation: 'RTM_NEWLINK lxc1234' });
      expect(isErrno(refusal, 'EEXIST')).to.equal(true);
    });

    it('reads an ack (error 0) and a dump end as no refusal, a dump end with an errno as one', () => {
      expect(refusalOf(errorMessage(0, NLM_F.CAPPED, Buffer.alloc(0)), 'x')).to.equal(undefined);
      const done = (errno: number) => splitMessages(encodeMessage(NLMSG.DONE, NLM_F.MULTI, 9, Buffer.from(Int32Array.of(errno).buffer)))[0]!;
      expect(refusalOf(done(0), 'x')).to.equal(undefined);
      expect(refusalOf(done(-22), 'RTM_GETROUTE IPv4 routes')!.message).to.equal('RTM_GETROUTE IPv4 routes: EINVAL (invalid argument)');
    });
  });
});
