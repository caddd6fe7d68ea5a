/**
 * Hubble's flow filters evaluated on the server: a request's whitelist (a flow passes if any filter
 * matches; no filters: every flow) and blacklist (a flow passes if none matches). Inside one filter
 * every field that is set must match, and a field matches when any of its values does. A value that
 * cannot be understood throws a {@link FilterError} naming the field, before anything is sent.
 */
import { BlockList, isIPv4 } from 'node:net';
import type { Flow, FlowEndpoint, FlowFilter, TcpFlags } from './flow-types.ts';
import { addHttpFilters } from './http-filters.ts';
import { parseLabelSelector } from './label-selector.ts';

/** A filter field whose value is malformed or not supported. */
export class FilterError extends Error {
  /** @param field the FlowFilter field, e.g. `source_ip`. */
  constructor(readonly field: string, message: string) {
    super(`invalid ${field} filter: ${message}`);
  }
}

/** A compiled predicate over flows. */
export type FlowPredicate = (f: Flow) => boolean;

type Check = (f: Flow) => boolean;

const PROTOCOLS: Record<string, (f: Flow) => boolean> = {
  tcp: (f) => f.l4?.TCP !== undefined,
  udp: (f) => f.l4?.UDP !== undefined,
  sctp: (f) => f.l4?.SCTP !== undefined,
  icmp: (f) => f.l4?.ICMPv4 !== undefined || f.l4?.ICMPv6 !== undefined,
  icmpv4: (f) => f.l4?.ICMPv4 !== undefined,
  icmpv6: (f) => f.l4?.ICMPv6 !== undefined,
  // Layer 7 protocols: the flows of Ciliate's L7 proxies.
  http: (f) => f.l7?.http !== undefined,
  dns: (f) => f.l7?.dns !== undefined,
  kafka: () => false,
};

/** Builds the predicate for a request's whitelist and blacklist. */
export function compileFilters(whitelist: readonly FlowFilter[] = [], blacklist: readonly FlowFilter[] = []): FlowPredicate {
  const allow = whitelist.map(compileFilter);
  const deny = blacklist.map(compileFilter);
  return (f) => (allow.length === 0 || allow.some((p) => p(f))) && !deny.some((p) => p(f));
}

/** One filter: every set field must match. */
export function compileFilter(filter: FlowFilter): FlowPredicate {
  const checks: Check[] = [];
  const add = <T>(field: keyof FlowFilter, build: (values: T[]) => Check) => {
    const values = filter[field] as T[] | undefined;
    if (values && values.length > 0) checks.push(build(values));
  };
  add<string>('uuid', (v) => (f) => v.includes(f.uuid ?? ''));
  add<string>('source_ip', (v) => ipCheck('source_ip', v, (f) => f.IP.source));
  add<string>('destination_ip', (v) => ipCheck('destination_ip', v, (f) => f.IP.destination));
  add<string>('source_pod', (v) => podCheck('source_pod', v, (f) => f.source));
  add<string>('destination_pod', (v) => podCheck('destination_pod', v, (f) => f.destination));
  add<string>('source_label', (v) => labelCheck('source_label', v, (f) => f.source));
  add<string>('destination_label', (v) => labelCheck('destination_label', v, (f) => f.destination));
  add<string>('source_service', (v) => serviceCheck('source_service', v, (f) => f.source_service));
  add<string>('destination_service', (v) => serviceCheck('destination_service', v, (f) => f.destination_service));
  add<{ name?: string; kind?: string }>('source_workload', (v) => workloadCheck(v, (f) => f.source));
  add<{ name?: string; kind?: string }>('destination_workload', (v) => workloadCheck(v, (f) => f.destination));
  add<string>('source_cluster_name', (v) => (f) => v.includes(f.source.cluster_name ?? ''));
  add<string>('destination_cluster_name', (v) => (f) => v.includes(f.destination.cluster_name ?? ''));
  add<string>('traffic_direction', (v) => (f) => v.includes(f.traffic_direction));
  add<string>('verdict', (v) => (f) => v.includes(f.verdict));
  add<string>('drop_reason_desc', (v) => (f) => f.drop_reason_desc !== undefined && v.includes(String(f.drop_reason_desc)));
  add<{ index?: number; name?: string }>('interface', (v) => (f) => v.some((i) =>
    f.interface !== undefined && (!i.index || i.index === f.interface.index) && (!i.name || i.name === f.interface.name)));
  add<{ type?: number; match_sub_type?: boolean; sub_type?: number }>('event_type', (v) => (f) => v.some((e) =>
    (e.type ?? 0) === f.event_type.type && (!e.match_sub_type || (e.sub_type ?? 0) === f.event_type.sub_type)));
  add<string>('protocol', (v) => {
    const tests = v.map((p) => {
      const t = PROTOCOLS[p.toLowerCase()];
      if (!t) throw new FilterError('protocol', `unknown protocol "${p}"`);
      return t;
    });
    return (f) => tests.some((t) => t(f));
  });
  add<string>('source_port', (v) => portCheck('source_port', v, 'source_port'));
  add<string>('destination_port', (v) => portCheck('destination_port', v, 'destination_port'));
  // A flow whose reply state is unknown (a drop) counts as not a reply, as upstream.
  add<boolean>('reply', (v) => (f) => v.includes(f.is_reply?.value ?? false));
  add<number>('source_identity', (v) => (f) => v.includes(f.source.identity));
  add<number>('destination_identity', (v) => (f) => v.includes(f.destination.identity));
  add<TcpFlags>('tcp_flags', (v) => (f) => {
    const flags = f.l4?.TCP?.flags;
    return flags !== undefined && v.some((want) => Object.entries(want).every(([k, on]) => !on || flags[k as keyof TcpFlags] === true));
  });
  add<string>('node_name', (v) => {
    const patterns = v.map((p) => nodePattern(p));
    return (f) => patterns.some((re) => re.test(f.node_name));
  });
  add<string>('ip_version', (v) => (f) => v.includes(f.IP.ipVersion));
  add<boolean>('encrypted', (v) => () => v.includes(false));
  // DNS queries: regular expressions over the query of DNS proxy flows, as upstream.
  add<string>('dns_query', (v) => {
    const res = v.map((q) => {
      try {
        return new RegExp(q);
      } catch (err) {
        throw new FilterError('dns_query', (err as Error).message);
      }
    });
    return (f) => f.l7?.dns !== undefined && res.some((re) => re.test(f.l7!.dns!.query));
  });
  add<string>('source_fqdn', (v) => fqdnCheck('source_fqdn', v, (f) => f.source_names));
  add<string>('destination_fqdn', (v) => fqdnCheck('destination_fqdn', v, (f) => f.destination_names));
  addHttpFilters(add, (field, message) => new FilterError(field, message));
  // Translated sources, traces and node labels: Ciliate's flows carry none of them.
  for (const field of ['source_ip_xlated', 'trace_id', 'ip_trace_id', 'node_labels'] as const) {
    add<unknown>(field, () => () => false);
  }
  if ((filter.experimental?.cel_expression ?? []).length > 0) {
    throw new FilterError('experimental.cel_expression', 'CEL expressions are not supported by Ciliate');
  }
  return (f) => checks.every((c) => c(f));
}

/**
 * DNS name patterns over a flow's names, as upstream: case-insensitive, a final dot ignored, `*`
 * any run of DNS characters and dots; only those characters and `*` are allowed.
 */
function fqdnCheck(field: string, values: string[], names: (f: Flow) => string[] | undefined): Check {
  const res = values.map((v) => {
    const p = v.trim().toLowerCase().replace(/\.$/, '');
    if (!/^[-a-z0-9_.*]+$/.test(p)) throw new FilterError(field, `"${v}": only letters, digits, "-", "_", "." and "*" are allowed`);
    return new RegExp(`^${p.replace(/\./g, '[.]').replace(/\*/g, '[-a-z0-9_.]*')}$`);
  });
  return (f) => (names(f) ?? []).some((n) => res.some((re) => re.test(n)));
}

/** IP addresses or CIDRs. */
function ipCheck(field: string, values: string[], ip: (f: Flow) => string): Check {
  const list = new BlockList();
  const exact = new Set<string>();
  for (const v of values) {
    const [addr, bits, extra] = v.split('/');
    if (extra !== undefined || !addr || !isIPv4(addr)) throw new FilterError(field, `"${v}" is not an IPv4 address or CIDR`);
    if (bits === undefined) {
      exact.add(addr);
      continue;
    }
    const n = Number(bits);
    if (!/^\d+$/.test(bits) || n > 32) throw new FilterError(field, `"${v}" has an invalid prefix length`);
    list.addSubnet(addr, n, 'ipv4');
  }
  return (f) => {
    const a = ip(f);
    return exact.has(a) || (isIPv4(a) && list.check(a, 'ipv4'));
  };
}

/** `namespace/` plus a pod name prefix; a value without `/` is a pod name prefix in `default`. */
function podCheck(field: string, values: string[], ep: (f: Flow) => FlowEndpoint): Check {
  const parsed = values.map((v) => {
    const slash = v.indexOf('/');
    const [ns, prefix] = slash >= 0 ? [v.slice(0, slash), v.slice(slash + 1)] : ['default', v];
    if (!ns && !prefix) throw new FilterError(field, `"${v}" names neither a namespace nor a pod`);
    return { ns, prefix };
  });
  return (f) => {
    const e = ep(f);
    if (!e.pod_name) return false;
    return parsed.some((p) => (!p.ns || p.ns === e.namespace) && e.pod_name!.startsWith(p.prefix));
  };
}

/** Label selectors over the endpoint's labels. */
function labelCheck(field: string, values: string[], ep: (f: Flow) => FlowEndpoint): Check {
  const selectors = values.map((v) => {
    try {
      return parseLabelSelector(v);
    } catch (err) {
      throw new FilterError(field, (err as Error).message);
    }
  });
  return (f) => selectors.some((s) => s(ep(f).labels ?? []));
}

/** `namespace/` plus a service name prefix. */
function serviceCheck(_field: string, values: string[], svc: (f: Flow) => { name: string; namespace: string } | undefined): Check {
  const parsed = values.map((v) => {
    const slash = v.indexOf('/');
    return slash >= 0 ? { ns: v.slice(0, slash), prefix: v.slice(slash + 1) } : { ns: 'default', prefix: v };
  });
  return (f) => {
    const s = svc(f);
    return s !== undefined && parsed.some((p) => (!p.ns || p.ns === s.namespace) && s.name.startsWith(p.prefix));
  };
}

function workloadCheck(values: { name?: string; kind?: string }[], ep: (f: Flow) => FlowEndpoint): Check {
  return (f) => (ep(f).workloads ?? []).some((w) => values.some((v) => (!v.name || v.name === w.name) && (!v.kind || v.kind === w.kind)));
}

/** Port numbers (decimal, 0-65535) of TCP, UDP or SCTP. */
function portCheck(field: string, values: string[], side: 'source_port' | 'destination_port'): Check {
  const ports = values.map((v) => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new FilterError(field, `"${v}" is not a port number`);
    return Number(v);
  });
  return (f) => {
    const l4 = f.l4?.TCP ?? f.l4?.UDP ?? f.l4?.SCTP;
    return l4 !== undefined && ports.includes(l4[side]);
  };
}

/** A node name pattern: `*` matches within a name; `cluster/pattern` also names the cluster (ignored). */
function nodePattern(p: string): RegExp {
  const name = p.includes('/') ? p.slice(p.indexOf('/') + 1) : p;
  return new RegExp(`^${name.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
}
