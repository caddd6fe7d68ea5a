/**
 * The upstream peer suites run against Ciliate: which specs of the pinned e2e.test each one selects,
 * which of those it leaves out here and why, and the CI slice (a few fast specs per suite).
 */

/** A group of specs a suite leaves out on purpose; the reason is printed beside their count. */
export interface SkipRule {
  /** A regular expression on the spec's full text, in the syntax Go's regexp and JavaScript share. */
  pattern: string;
  reason: string;
}

/** The suites by name. */
export type SuiteName = 'netpol' | 'services' | 'services-extended';

/** One upstream suite. */
export interface PeerSuite {
  name: SuiteName;
  /** ginkgo's focus: a regular expression on the full spec text (Go and JavaScript syntax alike). */
  focus: string;
  /** Specs the focus also matches that belong to another suite (not run, not counted). */
  exclude?: string;
  skips: readonly SkipRule[];
  /** Exact full texts of the specs the CI slice runs: fast ones that pass with Ciliate. */
  slice: readonly string[];
}

const NETPOL_PREFIX = '[sig-network] Netpol NetworkPolicy between server and client ';
const SERVICES_PREFIX = '[sig-network] Services ';
const NO_SCTP = 'SCTP traffic: this kernel has no SCTP (not built in, no module to load), so agnhost cannot serve it';

/**
 * `[sig-network] Netpol`: upstream's NetworkPolicy specs (reachability matrices probed with
 * `agnhost connect` through `kubectl exec`) and the NetworkPolicy API specs.
 */
const NETPOL: PeerSuite = {
  name: 'netpol',
  focus: '\\[sig-network\\] Netpol ',
  skips: [
    { pattern: '\\[Feature:SCTPConnectivity\\]', reason: NO_SCTP },
  ],
  slice: [
    `${NETPOL_PREFIX}should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]`,
    `${NETPOL_PREFIX}should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector [Feature:NetworkPolicy]`,
    `${NETPOL_PREFIX}should deny egress from pods based on PodSelector [Feature:NetworkPolicy]`,
    `${NETPOL_PREFIX}should enforce policy based on Ports [Feature:NetworkPolicy]`,
    `${NETPOL_PREFIX}should enforce except clause while egress access to server in CIDR block [Feature:NetworkPolicy]`,
  ],
};

/**
 * `[sig-network] Services` conformance specs: ClusterIP, NodePort, multi-port and multi-protocol
 * Services, session affinity and type changes, each checked from pods through the datapath that
 * replaces kube-proxy; plus the API-only ones (lifecycle, listing), which need no datapath.
 */
const SERVICES: PeerSuite = {
  name: 'services',
  focus: '\\[sig-network\\] Services .*\\[Conformance\\]',
  skips: [],
  slice: [
    `${SERVICES_PREFIX}should serve a basic endpoint from pods [Conformance]`,
    `${SERVICES_PREFIX}should be able to create a functioning NodePort service [Conformance]`,
  ],
};

/**
 * The other `[sig-network] Services` specs that exercise the service proxy: traffic policies,
 * terminating and unready endpoints, rejection without endpoints, hairpin, source IP, affinity
 * timeouts, the proxy's label conventions.
 */
const SERVICES_EXTENDED: PeerSuite = {
  name: 'services-extended',
  focus: '\\[sig-network\\] Services ',
  exclude: '\\[Conformance\\]',
  skips: [
    { pattern: '\\[Disruptive\\]', reason: 'restarts kube-proxy or the apiserver over SSH to the nodes: the local provider has no SSH, and there is no kube-proxy' },
    { pattern: 'SCTP', reason: NO_SCTP },
    {
      pattern: 'should create endpoints for unready pods',
      reason: 'asks the apiserver to proxy to a pod: the apiserver runs in the machine\'s namespace, which has no route to pod addresses (clusters on one machine share pod CIDRs), so the connection would head for the uplink\'s gateway',
    },
    {
      pattern: 'internalTrafficPolicy=Local Pod and Node, to Pod \\(hostNetwork: true\\)',
      reason: 'expects a hostNetwork pod to answer with its node\'s name as hostname: the local nodes share the machine\'s hostname (one UTS namespace)',
    },
  ],
  slice: [
    `${SERVICES_PREFIX}should be rejected when no endpoints exist`,
    `${SERVICES_PREFIX}should allow pods to hairpin back to themselves through services`,
  ],
};

/** Every suite, in the order `all` runs them. */
export const SUITES: readonly PeerSuite[] = [NETPOL, SERVICES, SERVICES_EXTENDED];

/** The suite named `name`. */
export function suiteNamed(name: string): PeerSuite {
  const s = SUITES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown suite "${name}" (${SUITES.map((x) => x.name).join(', ')} or all)`);
  return s;
}

/** `text` as a regular expression matching itself literally (escaping is the same in Go and JavaScript). */
export function literalPattern(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** What one e2e.test run of `suite` selects: the whole suite, or only its CI slice. */
export interface Selection {
  focus: string;
  skip?: string;
}

/**
 * The focus and skip of a run of `suite`. The slice's focus names its specs' full texts, anchored at
 * the end only: ginkgo matches focus against the suite's description, a space, then the spec's text.
 */
export function selection(suite: PeerSuite, slice: boolean): Selection {
  if (slice) return { focus: `(${suite.slice.map(literalPattern).join('|')})$` };
  const skip = [...(suite.exclude ? [suite.exclude] : []), ...suite.skips.map((s) => s.pattern)];
  return { focus: suite.focus, ...(skip.length ? { skip: skip.join('|') } : {}) };
}
