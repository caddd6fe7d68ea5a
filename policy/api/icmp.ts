/**
 * ICMP and ICMPv6 message type names accepted in `icmps[].fields[].type`.
 */

/** ICMPv4 type numbers by name. */
export const ICMPV4_TYPES: Readonly<Record<string, number>> = {
  EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, Echo: 8, EchoRequest: 8,
  RouterAdvertisement: 9, RouterSelection: 10, TimeExceeded: 11, ParameterProblem: 12,
  Timestamp: 13, TimestampReply: 14, Photuris: 40, ExtendedEchoRequest: 42, ExtendedEchoReply: 43,
};

/** ICMPv6 type numbers by name. */
export const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  DestinationUnreachable: 1, PacketTooBig: 2, TimeExceeded: 3, ParameterProblem: 4,
  EchoRequest: 128, EchoReply: 129, MulticastListenerQuery: 130, MulticastListenerReport: 131,
  MulticastListenerDone: 132, RouterSolicitation: 133, RouterAdvertisement: 134,
  NeighborSolicitation: 135, NeighborAdvertisement: 136, RedirectMessage: 137,
  RouterRenumbering: 138, ICMPNodeInformationQuery: 139, ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141, InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144, HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146, MobilePrefixAdvertisement: 147, DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158, ExtendedEchoRequest: 160, ExtendedEchoReply: 161,
};

/** Resolves an ICMP type given as number or name for a family; undefined if unknown. */
export function icmpType(value: number | string, family: 'IPv4' | 'IPv6'): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255 ? value : undefined;
  if (/^\d+$/.test(value)) return icmpType(Number(value), family);
  return (family === 'IPv4' ? ICMPV4_TYPES : ICMPV6_TYPES)[value];
}
