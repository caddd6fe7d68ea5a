/**
 * Parsing Kubernetes NetworkPolicy (networking.k8s.io/v1) into the same internal rules.
 *   - podSelector selects `k8s:` labels in the policy's namespace;
 *   - a peer podSelector alone means pods of this namespace; namespaceSelector selects
 *     namespaces through the `io.cilium.k8s.namespace.labels.*` labels; both together are ANDed;
 *     ipBlock is a CIDR with except, which may also select pods by address (see CidrSelectorSpec);
 *   - a rule without `from`/`to` allows all peers; without `ports`, all ports;
 *   - policyTypes defaults to Ingress, plus Egress when egress rules are present.
 */
import { formatPrefix, parsePrefix, prefixContains } from '../../identity/cidr.ts';
import { NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_LABEL } from '../../identity/pod-labels.ts';
import { ErrorCollector, join } from './errors.ts';
import type { Direction, PeerRule, PeerSelector, PolicyRule, PortProtocol, ProtocolName, RuleOrigin } from './model.ts';
import { type PolicyParseResult, readMetadata } from './parse-cilium-policy.ts';
import { isServiceName } from './parse-ports.ts';
import { labelSelector, parseLabelSelector, requirement } from './parse-selector.ts';

function parsePeer(raw: unknown, path: string, namespace: string, errs: ErrorCollector): PeerSelector | undefined {
  const obj = errs.object(raw, path) ?? {};
  const ipBlock = errs.object(obj.ipBlock, join(path, 'ipBlock'));
  if (ipBlock) {
    const cidrPath = join(path, 'ipBlock.cidr');
    const outer = parsePrefix(errs.string(ipBlock.cidr, cidrPath) ?? '');
    if (!outer) {
      errs.add(cidrPath, `invalid CIDR ${JSON.stringify(ipBlock.cidr)}`);
      return undefined;
    }
    const except = errs.strings(ipBlock.except, join(path, 'ipBlock.except')).flatMap((e, i) => {
      const p = parsePrefix(e);
      if (!p || !prefixContains(outer, p)) {
        errs.add(`${join(path, 'ipBlock.except')}[${i}]`, `${JSON.stringify(e)} is not a CIDR inside ${formatPrefix(outer)}`);
        return [];
      }
      return [formatPrefix(p)];
    });
    return { kind: 'cidr', cidr: formatPrefix(outer), except, endpointAddresses: true };
  }
  const hasPods = obj.podSelector !== undefined && obj.podSelector !== null;
  const hasNs = obj.namespaceSelector !== undefined && obj.namespaceSelector !== null;
  const pods = hasPods ? parseLabelSelector(obj.podSelector, join(path, 'podSelector'), errs, 'k8s') : labelSelector([]);
  const ns = hasNs ? parseLabelSelector(obj.namespaceSelector, join(path, 'namespaceSelector'), errs, 'k8s') : undefined;
  if (!pods || (hasNs && !ns)) return undefined;
  const nsReqs = ns
    ? [
      ...ns.requirements.map((r) => ({ ...r, source: 'k8s' as const, key: NAMESPACE_LABELS_PREFIX + r.key })),
      requirement('k8s', POD_NAMESPACE_LABEL, 'Exists'),
    ]
    : [requirement('k8s', POD_NAMESPACE_LABEL, 'In', [namespace])];
  return labelSelector([...pods.requirements, ...nsReqs]);
}

function parsePorts(raw: unknown, path: string, errs: ErrorCollector): PortProtocol[] {
  return errs.array(raw, path).flatMap((p, i) => {
    const pp = `${path}[${i}]`;
    const obj = errs.object(p, pp) ?? {};
    const protocol = (errs.string(obj.protocol, join(pp, 'protocol')) ?? 'TCP') as ProtocolName;
    if (!['TCP', 'UDP', 'SCTP'].includes(protocol)) {
      errs.add(join(pp, 'protocol'), `unsupported protocol ${JSON.stringify(protocol)}`);
      return [];
    }
    if (obj.port === undefined || obj.port === null) return [{ protocol, port: 0, endPort: 0 }];
    if (typeof obj.port === 'string' && !/^\d+$/.test(obj.port)) {
      if (!isServiceName(obj.port)) errs.add(join(pp, 'port'), `invalid port name ${JSON.stringify(obj.port)}`);
      return [{ protocol, port: 0, endPort: 0, name: obj.port }];
    }
    const port = Number(obj.port);
    const end = typeof obj.endPort === 'number' ? obj.endPort : port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) errs.add(join(pp, 'port'), `port ${String(obj.port)} out of range 1-65535`);
    else if (!Number.isInteger(end) || end < port || end > 65535) errs.add(join(pp, 'endPort'), `endPort ${end} must be in ${port}-65535`);
    else return [{ protocol, port, endPort: end }];
    return [];
  });
}

function parseDirection(
  items: unknown[], direction: Direction, path: string, namespace: string, origin: RuleOrigin, errs: ErrorCollector,
): PeerRule[] {
  const peersField = direction === 'ingress' ? 'from' : 'to';
  return items.map((item, i) => {
    const ip = `${path}[${i}]`;
    const obj = errs.object(item, ip) ?? {};
    const rawPeers = errs.array(obj[peersField], join(ip, peersField));
    const peers: PeerSelector[] = rawPeers.length === 0
      ? [{ kind: 'wildcard' }]
      : rawPeers.map((p, j) => parsePeer(p, `${join(ip, peersField)}[${j}]`, namespace, errs)).filter((p) => p !== undefined);
    const ports = parsePorts(obj.ports, join(ip, 'ports'), errs);
    return { direction, deny: false, peers, portRules: ports.length > 0 ? [{ ports }] : [], path: ip, origin: { ...origin, path: ip } };
  });
}

/** Parses a Kubernetes NetworkPolicy. */
export function parseK8sNetworkPolicy(raw: unknown): PolicyParseResult {
  const errs = new ErrorCollector();
  const meta = readMetadata(raw, errs);
  const namespace = meta.namespace ?? 'default';
  const spec = errs.object((errs.object(raw, '') ?? {}).spec, 'spec') ?? {};
  const podSel = parseLabelSelector(spec.podSelector ?? {}, 'spec.podSelector', errs, 'k8s');
  const ingress = errs.array(spec.ingress, 'spec.ingress');
  const egress = errs.array(spec.egress, 'spec.egress');
  const types = errs.strings(spec.policyTypes, 'spec.policyTypes');
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errs.add(`spec.policyTypes[${i}]`, `must be Ingress or Egress, not ${JSON.stringify(t)}`);
  });
  const hasIngress = types.length > 0 ? types.includes('Ingress') : true;
  const hasEgress = types.length > 0 ? types.includes('Egress') : egress.length > 0;
  const origin: RuleOrigin = { kind: 'NetworkPolicy', namespace, name: meta.name, ruleIndex: 0 };
  const peerRules = [
    ...(hasIngress ? parseDirection(ingress, 'ingress', 'spec.ingress', namespace, origin, errs) : []),
    ...(hasEgress ? parseDirection(egress, 'egress', 'spec.egress', namespace, origin, errs) : []),
  ];
  const rules: PolicyRule[] = podSel && errs.ok
    ? [{
      origin, hostPolicy: false, peerRules,
      subject: labelSelector([...podSel.requirements, requirement('k8s', POD_NAMESPACE_LABEL, 'In', [namespace])]),
      hasDirection: { ingress: hasIngress, egress: hasEgress },
      defaultDeny: { ingress: hasIngress, egress: hasEgress },
    }]
    : [];
  return {
    kind: 'NetworkPolicy', namespace, name: meta.name, ...(meta.uid !== undefined && { uid: meta.uid }),
    rules, errors: errs.errors, warnings: [],
  };
}
