/**
 * The internal rule model every policy kind (CNP, CCNP, Kubernetes NetworkPolicy) is parsed into.
 * It is already namespace-scoped and fully validated: peers are concrete selectors, ports are
 * numbers or named ports, L7 rules are kept for the proxy.
 */
import type { LabelSource } from '../../identity/labels.ts';

/** The policy object kinds Ciliate reads. */
export type PolicyKind = 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy' | 'NetworkPolicy';

/** Where a rule came from: answers "which rule allowed or dropped this". */
export interface RuleOrigin {
  readonly kind: PolicyKind | 'Implicit';
  /** Namespace of a namespaced policy; undefined for clusterwide ones. */
  readonly namespace?: string;
  readonly name: string;
  /** Index of the rule inside `specs` (0 for `spec`, -1 for implicit entries). */
  readonly ruleIndex: number;
  /** Path of the rule element inside the object, e.g. `specs[1].ingress[0]`, when known. */
  readonly path?: string;
}

/** Operators of a label requirement (Kubernetes LabelSelector semantics). */
export type RequirementOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** One requirement of a label selector over source-prefixed labels (`any` = any source). */
export interface Requirement {
  readonly source: LabelSource;
  readonly key: string;
  readonly operator: RequirementOperator;
  /** Sorted, for In/NotIn; empty otherwise. */
  readonly values: readonly string[];
}

/** A label selector: all requirements must hold (an empty list matches every identity). */
export interface LabelSelectorSpec {
  readonly kind: 'labels';
  readonly requirements: readonly Requirement[];
}

/** A CIDR peer; `except` prefixes inside `cidr` are carved out. */
export interface CidrSelectorSpec {
  readonly kind: 'cidr';
  readonly cidr: string;
  readonly except: readonly string[];
  /**
   * A NetworkPolicy `ipBlock`: where the agent runs with `policy-cidr-match-mode` `pods`, it also
   * selects the endpoints' identities whose every address is inside `cidr` and outside `except`.
   */
  readonly endpointAddresses?: boolean;
}

/** A CiliumCIDRGroup reference; identities of the group's prefixes carry its `cidrgroup:` label. */
export interface CidrGroupSelectorSpec {
  readonly kind: 'cidrgroup';
  readonly group: string;
  readonly except: readonly string[];
}

/** A toFQDNs entry; it selects identities whose `fqdn:` labels (learned from DNS) match. */
export interface FqdnSelectorSpec {
  readonly kind: 'fqdn';
  readonly matchName?: string;
  readonly matchPattern?: string;
}

/** Every peer, in or outside the cluster (entity `all`, L4-only rules). Identity 0 in the map. */
export interface WildcardSelectorSpec {
  readonly kind: 'wildcard';
}

/** A peer selector of any kind. */
export type PeerSelector =
  | LabelSelectorSpec | CidrSelectorSpec | CidrGroupSelectorSpec | FqdnSelectorSpec | WildcardSelectorSpec;

/** Protocol names accepted in toPorts, plus the ICMP families used for `icmps`. */
export type ProtocolName = 'TCP' | 'UDP' | 'SCTP' | 'ANY' | 'ICMP' | 'ICMPv6';

/** One port (or range, or named port) of a port rule. */
export interface PortProtocol {
  readonly protocol: ProtocolName;
  /** 0 = all ports. For ICMP this is the ICMP type. */
  readonly port: number;
  /** Last port of a range (inclusive), equal to `port` for a single port. */
  readonly endPort: number;
  /** Named port to resolve against the endpoint (ingress) or the peers (egress). */
  readonly name?: string;
}

/** One HTTP rule the proxy enforces; empty fields match anything. */
export interface HttpRule {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: readonly string[];
  readonly headerMatches?: readonly unknown[];
}

/** One DNS rule the DNS proxy enforces. */
export interface DnsRule {
  readonly matchName?: string;
  readonly matchPattern?: string;
}

/** L7 rules of a port rule (exactly one parser). */
export type L7Rules =
  | { readonly parser: 'http'; readonly http: readonly HttpRule[] }
  | { readonly parser: 'dns'; readonly dns: readonly DnsRule[] }
  | { readonly parser: 'kafka'; readonly kafka: readonly Record<string, unknown>[] }
  | { readonly parser: 'l7proto'; readonly l7proto: string; readonly l7: readonly Record<string, string>[] };

/** A `toPorts[]` item (or an `icmps[]` item, converted). */
export interface PortRuleSpec {
  readonly ports: readonly PortProtocol[];
  readonly l7?: L7Rules;
}

/** Traffic direction, seen from the selected endpoint. */
export type Direction = 'ingress' | 'egress';

/** One element of ingress/egress/ingressDeny/egressDeny, after requirements were folded in. */
export interface PeerRule {
  readonly direction: Direction;
  readonly deny: boolean;
  /** The peers; empty means the element grants nothing (e.g. `ingress: [{}]`). */
  readonly peers: readonly PeerSelector[];
  /** Port rules; empty means all ports and protocols (L3 only). */
  readonly portRules: readonly PortRuleSpec[];
  /** Path of the element inside the object, e.g. `specs[1].ingress[0]`. */
  readonly path: string;
  /** The policy, rule and element this came from. */
  readonly origin: RuleOrigin;
}

/** A fully parsed rule. */
export interface PolicyRule {
  readonly origin: RuleOrigin;
  /** Subject selector: which endpoints the rule applies to. */
  readonly subject: LabelSelectorSpec;
  /** True when the subject is a nodeSelector (host policy). */
  readonly hostPolicy: boolean;
  readonly peerRules: readonly PeerRule[];
  /** Whether the rule pushes each direction into default deny. */
  readonly defaultDeny: { readonly ingress: boolean; readonly egress: boolean };
  /** Whether the rule has any rules for the direction (it then "selects" it for enforcement). */
  readonly hasDirection: { readonly ingress: boolean; readonly egress: boolean };
}
