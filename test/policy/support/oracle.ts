// A deliberately naive policy evaluator (rules straight to a decision, no map state), used as an
// independent oracle for the map-state precedence in property tests.
import type { LabelSet } from '../../../identity/labels.ts';
import { ReservedIdentity } from '../../../identity/numeric.ts';
import type { PeerRule, PolicyRule, PortProtocol } from '../../../policy/api/model.ts';
import { type EnforcementMode, enforcement } from '../../../policy/endpoint-policy.ts';
import { PROTOCOL_NUMBERS } from '../../../policy/mapstate-types.ts';
import type { NamedPort } from '../../../policy/ports.ts';
import { ruleSelects } from '../../../policy/repository.ts';
import { compileSelector } from '../../../policy/selector-match.ts';
import type { PacketInfo } from '../../../policy/verdict.ts';

/** Everything the oracle needs to decide. */
export interface OracleWorld {
  readonly identities: ReadonlyMap<number, LabelSet>;
  readonly endpointLabels: LabelSet;
  readonly endpointPorts: readonly NamedPort[];
  readonly egressPorts: readonly NamedPort[];
  readonly mode: EnforcementMode;
}

function portMatches(p: PortProtocol, hasL7NonDns: boolean, pkt: PacketInfo, named: readonly NamedPort[]): boolean {
  if (p.name !== undefined) {
    return named.some((np) => np.name === p.name && np.port === pkt.port && PROTOCOL_NUMBERS[np.protocol] === pkt.protocol
      && (p.protocol === 'ANY' ? !hasL7NonDns || np.protocol === 'TCP' : p.protocol === np.protocol));
  }
  if (p.protocol === 'ANY') {
    if (p.port === 0) return true;
    const protos = hasL7NonDns ? [6] : [6, 17, 132];
    if (!protos.includes(pkt.protocol)) return false;
  } else if (PROTOCOL_NUMBERS[p.protocol] !== pkt.protocol) {
    return false;
  }
  return p.port === 0 || (pkt.port >= p.port && pkt.port <= p.endPort);
}

function peerRuleMatches(pr: PeerRule, pkt: PacketInfo, w: OracleWorld): boolean {
  if (pr.direction !== pkt.direction) return false;
  const remote = w.identities.get(pkt.remoteIdentity);
  const peerOk = pr.peers.some((s) => s.kind === 'wildcard' || (remote !== undefined && compileSelector(s)(remote)));
  if (!peerOk) return false;
  if (pr.portRules.length === 0) return true;
  const named = pkt.direction === 'ingress' ? w.endpointPorts : w.egressPorts;
  return pr.portRules.some((r) => {
    if (r.ports.length === 0) return r.l7 === undefined;
    const l7 = r.l7 !== undefined && r.l7.parser !== 'dns';
    return r.ports.some((p) => portMatches(p, l7, pkt, named));
  });
}

/** The naive decision: deny if any deny rule matches, allow if any allow applies, else default deny. */
export function oracleVerdict(rules: readonly PolicyRule[], pkt: PacketInfo, w: OracleWorld): 'allowed' | 'denied' | 'default-deny' {
  if (w.mode === 'never') return 'allowed';
  const selecting = rules.filter((r) => ruleSelects(r, w.endpointLabels));
  const prs = selecting.flatMap((r) => r.peerRules);
  if (prs.some((pr) => pr.deny && peerRuleMatches(pr, pkt, w))) return 'denied';
  if (!enforcement(selecting, w.mode)[pkt.direction]) return 'allowed';
  if (pkt.direction === 'ingress' && pkt.remoteIdentity === ReservedIdentity.host) return 'allowed';
  return prs.some((pr) => !pr.deny && peerRuleMatches(pr, pkt, w)) ? 'allowed' : 'default-deny';
}
