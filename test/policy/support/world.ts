// Test fixtures: a small cluster (the connectivity-test namespace, kube-dns, the star-wars demo),
// reserved and CIDR identities, and helpers to load policies from YAML and ask for verdicts.
import { parse as parseYaml } from 'yaml';
import { cidrIdentityLabels, parsePrefix } from '../../../identity/cidr.ts';
import type { LabelSet } from '../../../identity/labels.ts';
import { ReservedIdentity } from '../../../identity/numeric.ts';
import { sanitizePodLabels } from '../../../identity/pod-labels.ts';
import { reservedIdentities } from '../../../identity/reserved-labels.ts';
import type { PolicyParseResult } from '../../../policy/api/parse-cilium-policy.ts';
import { parsePolicy } from '../../../policy/api/parse-policy.ts';
import { PolicyEngine } from '../../../policy/engine.ts';
import type { EndpointInfo, PolicyOptions } from '../../../policy/endpoint-policy.ts';
import { PROTOCOL_NUMBERS } from '../../../policy/mapstate-types.ts';
import type { Verdict } from '../../../policy/verdict.ts';

export const TEST_NS = 'cilium-test-1';

/** Pod labels as the agent derives them. */
export function podLabels(namespace: string, labels: Record<string, string>, serviceAccount?: string): LabelSet {
  return sanitizePodLabels({
    namespace, podLabels: labels, namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
    ...(serviceAccount !== undefined && { serviceAccount }),
  });
}

/** Named identities of the fixture cluster. */
export const ID = {
  client: 1001, client2: 1002, client3: 1003, echoSame: 1004, echoOther: 1005, kubeDns: 1010,
  deathstar: 2001, tiefighter: 2002, xwing: 2003,
  cidr8: (1 << 24) + 1, cidr32: (1 << 24) + 2, fqdnOneOne: (1 << 24) + 3,
  ...ReservedIdentity,
} as const;

/** Identity → labels of the fixture cluster. */
export function fixtureIdentities(): [number, LabelSet][] {
  return [
    ...reservedIdentities().map(({ id, labels }) => [id, labels] as [number, LabelSet]),
    [ID.client, podLabels(TEST_NS, { name: 'client', kind: 'client' }, 'client')],
    [ID.client2, podLabels(TEST_NS, { name: 'client2', kind: 'client', other: 'client' }, 'client2')],
    [ID.client3, podLabels(TEST_NS, { name: 'client3', kind: 'client' }, 'client3')],
    [ID.echoSame, podLabels(TEST_NS, { name: 'echo-same-node', kind: 'echo' }, 'echo-same-node')],
    [ID.echoOther, podLabels(TEST_NS, { name: 'echo-other-node', kind: 'echo' }, 'echo-other-node')],
    [ID.kubeDns, podLabels('kube-system', { 'k8s-app': 'kube-dns' }, 'coredns')],
    [ID.deathstar, podLabels('default', { org: 'empire', class: 'deathstar' })],
    [ID.tiefighter, podLabels('default', { org: 'empire', class: 'tiefighter' })],
    [ID.xwing, podLabels('default', { org: 'alliance', class: 'xwing' })],
    [ID.cidr8, cidrIdentityLabels(parsePrefix('1.0.0.0/8')!)],
    [ID.cidr32, cidrIdentityLabels(parsePrefix('1.0.0.1/32')!)],
  ];
}

/** Endpoint ids: we make every pod identity a local endpoint with endpoint id = identity. */
export function endpointFor(identity: number, namedPorts: EndpointInfo['namedPorts'] = []): EndpointInfo {
  const labels = new Map(fixtureIdentities()).get(identity);
  if (!labels) throw new Error(`no fixture identity ${identity}`);
  return { id: identity, identity, labels, namedPorts };
}

/** Parses one YAML document as a policy; throws on validation errors. */
export function policyFromYaml(text: string, namespace = TEST_NS): PolicyParseResult {
  const raw = parseYaml(text) as { metadata?: { namespace?: string } };
  if (raw.metadata && raw.metadata.namespace === undefined && (raw as { kind?: string }).kind !== 'CiliumClusterwideNetworkPolicy') {
    raw.metadata.namespace = namespace;
  }
  const result = parsePolicy(raw);
  if (result.errors.length > 0) throw new Error(`fixture policy invalid: ${JSON.stringify(result.errors)}`);
  return result;
}

/** An engine loaded with the fixture identities, the given policies and all pod endpoints. */
export function engineWith(policies: readonly string[], options: PolicyOptions = {}, namespace = TEST_NS): PolicyEngine {
  const engine = new PolicyEngine(options);
  engine.updateIdentities(fixtureIdentities());
  for (const p of policies) engine.upsertPolicy(policyFromYaml(p, namespace));
  for (const [id] of fixtureIdentities()) {
    if (id >= 1000 && id < 1 << 24) engine.upsertEndpoint(endpointFor(id, [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  }
  return engine;
}

/** Decision for a connection from `src` to `dst` (both identities) as seen at both ends. */
export function connect(
  engine: PolicyEngine, src: number, dst: number, proto: keyof typeof PROTOCOL_NUMBERS, port: number,
): { egress: Verdict | undefined; ingress: Verdict | undefined; result: string } {
  const protocol = PROTOCOL_NUMBERS[proto];
  const egress = engine.mapState(src) ? engine.verdict(src, { direction: 'egress', remoteIdentity: dst, protocol, port }) : undefined;
  const ingress = engine.mapState(dst) ? engine.verdict(dst, { direction: 'ingress', remoteIdentity: src, protocol, port }) : undefined;
  return { egress, ingress, result: summarize(egress, ingress) };
}

/** Connectivity-test style outcome names. */
function summarize(egress: Verdict | undefined, ingress: Verdict | undefined): string {
  const blocked = (v: Verdict | undefined) => v !== undefined && (v.verdict === 'denied' || v.verdict === 'default-deny');
  if (blocked(egress)) return egress!.verdict === 'denied' ? 'PolicyDenyEgressDrop' : 'DefaultDenyEgressDrop';
  if (blocked(ingress)) return ingress!.verdict === 'denied' ? 'PolicyDenyIngressDrop' : 'DefaultDenyIngressDrop';
  if (egress?.verdict === 'redirect' || ingress?.verdict === 'redirect') return 'Redirect';
  return 'OK';
}

/** A CiliumNetworkPolicy document; `spec` is the YAML under `spec:` (indented by two). */
export function cnp(name: string, spec: string): string {
  return `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${spec.replace(/^\n/, '')}`;
}

/** A CiliumClusterwideNetworkPolicy document (see {@link cnp}). */
export function ccnp(name: string, spec: string): string {
  return cnp(name, spec).replace('kind: CiliumNetworkPolicy', 'kind: CiliumClusterwideNetworkPolicy');
}
