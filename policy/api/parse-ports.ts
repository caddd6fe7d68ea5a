/**
 * Parsing `toPorts[]` (PortRule / PortDenyRule) and `icmps[]` with upstream's checks:
 * at most 40 ports per rule, port 0-65535 or an IANA service name, endPort >= port, protocol enum,
 * L7 only over TCP (DNS excepted), DNS needs an explicit port and no range and only on egress,
 * no L7 on port 0, serverNames only with terminatingTLS, host policies only DNS on egress.
 */
import { ErrorCollector, join } from './errors.ts';
import { icmpType } from './icmp.ts';
import type { Direction, PortProtocol, PortRuleSpec, ProtocolName } from './model.ts';
import { parseL7Rules } from './parse-l7.ts';

/** Upstream's maximum number of ports in one port rule (and ICMP fields in one item). */
export const MAX_PORTS_PER_RULE = 40;

const PROTOCOLS: readonly ProtocolName[] = ['TCP', 'UDP', 'SCTP', 'ANY'];

/** Context a port rule is parsed in. */
export interface PortRuleContext {
  readonly direction: Direction;
  readonly deny: boolean;
  readonly hostPolicy: boolean;
  readonly warn: (message: string) => void;
}

/** True for an IANA service name (what named ports must look like). */
export function isServiceName(name: string): boolean {
  return name.length >= 1 && name.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name)
    && /[a-z]/.test(name) && !name.includes('--');
}

function parsePort(raw: unknown, path: string, errs: ErrorCollector): PortProtocol | undefined {
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object');
    return undefined;
  }
  const protoText = errs.string(obj.protocol, join(path, 'protocol')) ?? 'ANY';
  const protocol = (protoText === '' ? 'ANY' : protoText) as ProtocolName;
  if (!PROTOCOLS.includes(protocol)) {
    errs.add(join(path, 'protocol'), `unsupported protocol ${JSON.stringify(protoText)}, must be one of ${PROTOCOLS.join(', ')}`);
    return undefined;
  }
  const portRaw = obj.port;
  const portText = typeof portRaw === 'number' ? String(portRaw) : errs.string(portRaw, join(path, 'port')) ?? '';
  let endPort: number | undefined;
  if (obj.endPort !== undefined && obj.endPort !== null) {
    if (typeof obj.endPort !== 'number' || !Number.isInteger(obj.endPort) || obj.endPort < 0 || obj.endPort > 65535) {
      errs.add(join(path, 'endPort'), 'must be an integer between 0 and 65535');
      return undefined;
    }
    endPort = obj.endPort;
  }
  if (portText === '' || /^\d+$/.test(portText)) {
    const port = portText === '' ? 0 : Number(portText);
    if (port > 65535) {
      errs.add(join(path, 'port'), `port ${portText} out of range 0-65535`);
      return undefined;
    }
    const end = endPort === undefined || endPort === 0 ? port : endPort;
    if (end < port) {
      errs.add(join(path, 'endPort'), `endPort ${end} must not be lower than port ${port}`);
      return undefined;
    }
    if (port === 0 && end !== 0) {
      errs.add(join(path, 'endPort'), 'endPort requires a non-zero port');
      return undefined;
    }
    return { protocol, port, endPort: end };
  }
  const name = portText.toLowerCase();
  if (!isServiceName(name)) {
    errs.add(join(path, 'port'), `${JSON.stringify(portText)} is neither a port number (0-65535) nor a valid port name`);
    return undefined;
  }
  return { protocol, port: 0, endPort: 0, name };
}

function checkL7Ports(spec: PortRuleSpec, path: string, ctx: PortRuleContext, errs: ErrorCollector): void {
  const l7 = spec.l7!;
  const rulesPath = join(path, 'rules');
  if (l7.parser === 'dns' && ctx.direction === 'ingress') errs.add(rulesPath, 'DNS rules are not allowed on ingress');
  if (ctx.hostPolicy && (l7.parser !== 'dns' || ctx.direction !== 'egress')) {
    errs.add(rulesPath, 'host policies support only DNS L7 rules, and only on egress');
  }
  spec.ports.forEach((p, i) => {
    const pp = `${join(path, 'ports')}[${i}]`;
    if (l7.parser !== 'dns' && p.protocol !== 'TCP') {
      errs.add(join(pp, 'protocol'), `L7 rules can only apply to TCP (not ${p.protocol}) except for DNS rules`);
    }
    if (p.port === 0 && p.name === undefined) errs.add(join(pp, 'port'), 'L7 rules can not be used when a port is 0');
    if (l7.parser === 'dns' && p.endPort !== p.port) errs.add(join(pp, 'endPort'), 'DNS rules do not support port ranges');
  });
  if (spec.ports.length === 0) errs.add(join(path, 'ports'), 'L7 rules need an explicit port');
}

/** Parses one `toPorts[]` item at `path`. */
export function parsePortRule(raw: unknown, path: string, ctx: PortRuleContext, errs: ErrorCollector): PortRuleSpec | undefined {
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object');
    return undefined;
  }
  const before = errs.errors.length;
  const rawPorts = errs.array(obj.ports, join(path, 'ports'));
  if (rawPorts.length > MAX_PORTS_PER_RULE) {
    errs.add(join(path, 'ports'), `too many ports (${rawPorts.length}), the maximum is ${MAX_PORTS_PER_RULE}`);
  }
  const ports = rawPorts.map((p, i) => parsePort(p, `${join(path, 'ports')}[${i}]`, errs)).filter((p) => p !== undefined);
  const serverNames = errs.strings(obj.serverNames, join(path, 'serverNames'));
  if (serverNames.length > 0 && (obj.terminatingTLS === undefined || obj.terminatingTLS === null)) {
    errs.add(join(path, 'serverNames'), 'serverNames can only be used together with terminatingTLS');
  }
  if (ctx.deny) {
    if (obj.rules !== undefined) ctx.warn(`${join(path, 'rules')}: deny rules have no L7 rules; ignored`);
    return errs.errors.length === before ? { ports } : undefined;
  }
  const l7 = parseL7Rules(obj.rules, join(path, 'rules'), errs);
  const spec: PortRuleSpec = l7 ? { ports, l7 } : { ports };
  if (l7) checkL7Ports(spec, path, ctx, errs);
  return errs.errors.length === before ? spec : undefined;
}

/** Parses one `icmps[]` item into a port rule over ICMP/ICMPv6 (the port is the ICMP type). */
export function parseIcmpRule(raw: unknown, path: string, errs: ErrorCollector): PortRuleSpec | undefined {
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object');
    return undefined;
  }
  const fields = errs.array(obj.fields, join(path, 'fields'));
  if (fields.length > MAX_PORTS_PER_RULE) {
    errs.add(join(path, 'fields'), `too many ICMP fields (${fields.length}), the maximum is ${MAX_PORTS_PER_RULE}`);
    return undefined;
  }
  const ports: PortProtocol[] = [];
  fields.forEach((f, i) => {
    const fp = `${join(path, 'fields')}[${i}]`;
    const fo = errs.object(f, fp) ?? {};
    const family = errs.string(fo.family, join(fp, 'family')) ?? 'IPv4';
    if (family !== 'IPv4' && family !== 'IPv6') {
      errs.add(join(fp, 'family'), `must be IPv4 or IPv6, not ${JSON.stringify(family)}`);
      return;
    }
    const t = typeof fo.type === 'number' || typeof fo.type === 'string' ? icmpType(fo.type, family) : undefined;
    if (t === undefined) {
      errs.add(join(fp, 'type'), `invalid ${family} ICMP type ${JSON.stringify(fo.type)}`);
      return;
    }
    ports.push({ protocol: family === 'IPv4' ? 'ICMP' : 'ICMPv6', port: t, endPort: t });
  });
  return { ports };
}
