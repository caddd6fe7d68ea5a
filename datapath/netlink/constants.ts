// Kernel UAPI numbers of route netlink, grouped by the prefix the kernel headers give them
// (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h, neighbour.h, veth.h, if.h, socket.h):
// NLM_F.ACK is NLM_F_ACK, RTM.NEWLINK is RTM_NEWLINK, and so on.

/** Netlink's own message types (NLMSG_*). */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/**
 * Message flags (NLM_F_*). Bits 0x100-0x800 mean different things by kind of message: for GET
 * requests DUMP; for NEW requests REPLACE, EXCL, CREATE; in error answers CAPPED, ACK_TLVS.
 */
export const NLM_F = {
  REQUEST: 0x01, MULTI: 0x02, ACK: 0x04, ECHO: 0x08, DUMP_INTR: 0x10,
  DUMP: 0x300,
  REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400,
  CAPPED: 0x100, ACK_TLVS: 0x200,
} as const;

/** Attributes after an error answer's echoed header (NLMSGERR_ATTR_*). */
export const NLMSGERR_ATTR = { MSG: 1 } as const;

/** Route netlink message types (RTM_*). */
export const RTM = {
  NEWLINK: 16, DELLINK: 17, GETLINK: 18,
  NEWADDR: 20, DELADDR: 21, GETADDR: 22,
  NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26,
  NEWNEIGH: 28, DELNEIGH: 29, GETNEIGH: 30,
} as const;

/** Link attributes (IFLA_*). */
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINKINFO: 18, NET_NS_FD: 28, EXT_MASK: 29 } as const;

/** Attributes nested in IFLA_LINKINFO (IFLA_INFO_*). */
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;

/** Attributes nested in a veth's IFLA_INFO_DATA (VETH_INFO_*): the peer is an ifinfomsg and its attributes. */
export const VETH_INFO = { PEER: 1 } as const;

/** Filters for link dumps and gets, in IFLA_EXT_MASK (RTEXT_FILTER_*). */
export const RTEXT_FILTER = { SKIP_STATS: 1 << 3 } as const;

/** Interface flags (IFF_*). */
export const IFF = { UP: 0x1, LOWER_UP: 0x10000 } as const;

/** Address attributes (IFA_*). */
export const IFA = { ADDRESS: 1, LOCAL: 2 } as const;

/** Route attributes (RTA_*). */
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, TABLE: 15 } as const;

/** Route types (RTN_*). */
export const RTN = { UNICAST: 1 } as const;

/** Who installed a route (RTPROT_*); BOOT is what `ip route add` uses when given none. */
export const RTPROT = { BOOT: 3 } as const;

/** Route and address scopes (RT_SCOPE_*). */
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;

/** Routing tables (RT_TABLE_*). */
export const RT_TABLE = { MAIN: 254 } as const;

/** Neighbour attributes (NDA_*). */
export const NDA = { DST: 1, LLADDR: 2 } as const;

/** Neighbour states (NUD_*). */
export const NUD = { PERMANENT: 0x80 } as const;

/** Address families (AF_*). */
export const AF = { UNSPEC: 0, INET: 2 } as const;

/** Sizes in bytes of the fixed headers: nlmsghdr, rtattr, and each message family's header. */
export const SIZE = { NLMSGHDR: 16, RTATTR: 4, IFINFOMSG: 16, IFADDRMSG: 8, RTMSG: 12, NDMSG: 12, NLMSGERR: 4 } as const;

/** The kernel's name of route netlink message type `type` ("RTM_NEWLINK"), or its number. */
export function rtmName(type: number): string {
  const name = Object.entries(RTM).find(([, v]) => v === type)?.[0];
  return name ? `RTM_${name}` : `netlink message type ${type}`;
}
