/**
 * Turning a rule's ports into the protocol/port parts of policy keys: protocol ANY with a port
 * expands to TCP, UDP and SCTP; ranges become aligned prefix blocks; named ports are resolved
 * against the endpoint's own ports (ingress) or the peers' ports (egress).
 */
import type { Direction, L7Rules, PortProtocol, PortRuleSpec } from './api/model.ts';
import { PROTOCOL_NUMBERS, portRangeToPrefixes } from './mapstate-types.ts';

/** A container port with a name (from the pod spec). */
export interface NamedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** The protocol/port part of a key, plus the L7 rules of the port rule it came from. */
export interface KeyPart {
  readonly protocol: number;
  readonly port: number;
  readonly portPrefixLen: number;
  readonly l7?: L7Rules;
}

/** Resolves a named port for a direction. */
export type NamedPortResolver = (name: string, direction: Direction) => readonly NamedPort[];

const L4_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function protocolsOf(p: PortProtocol, l7: L7Rules | undefined): number[] {
  if (p.protocol === 'ANY') {
    if (p.port === 0 && p.name === undefined) return [PROTOCOL_NUMBERS.ANY];
    return (l7 && l7.parser !== 'dns' ? ['TCP' as const] : L4_PROTOCOLS).map((n) => PROTOCOL_NUMBERS[n]);
  }
  return [PROTOCOL_NUMBERS[p.protocol]];
}

function partsForPort(p: PortProtocol, l7: L7Rules | undefined, direction: Direction, resolve: NamedPortResolver): KeyPart[] {
  const withL7 = (part: Omit<KeyPart, 'l7'>): KeyPart => (l7 ? { ...part, l7 } : part);
  if (p.name !== undefined) {
    const wanted = new Set(protocolsOf({ ...p, port: 1 }, l7));
    return resolve(p.name, direction)
      .filter((np) => wanted.has(PROTOCOL_NUMBERS[np.protocol]))
      .map((np) => withL7({ protocol: PROTOCOL_NUMBERS[np.protocol], port: np.port, portPrefixLen: 16 }));
  }
  return protocolsOf(p, l7).flatMap((protocol) => {
    if (protocol === 0 || p.port === 0) return [withL7({ protocol, port: 0, portPrefixLen: 0 })];
    return portRangeToPrefixes(p.port, p.endPort).map((b) => withL7({ protocol, ...b }));
  });
}

/** Key parts of a list of port rules; an empty list means all protocols and ports. */
export function keyParts(portRules: readonly PortRuleSpec[], direction: Direction, resolve: NamedPortResolver): KeyPart[] {
  if (portRules.length === 0) return [{ protocol: 0, port: 0, portPrefixLen: 0 }];
  return portRules.flatMap((pr) => {
    if (pr.ports.length === 0) return pr.l7 ? [] : [{ protocol: 0, port: 0, portPrefixLen: 0 }];
    return pr.ports.flatMap((p) => partsForPort(p, pr.l7, direction, resolve));
  });
}
