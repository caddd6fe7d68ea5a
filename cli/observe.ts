/**
 * `ciliate observe`: the cluster's flows from its Hubble Relay (or any Hubble server given with
 * --server), filtered on the server as `hubble observe` filters them, one line per flow with the
 * rule that decided it.
 */
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { DEFAULT_CLUSTER } from '../cluster/paths.ts';
import { clusterConfig } from '../cluster/pods.ts';
import { hubbleServer } from '../cluster/hubble-server.ts';
import { dropReasonText, SERVICE_LOOPBACK_IPV4 } from '../datapath/constants.ts';
import type { Flow, FlowEndpoint, FlowFilter, FlowPolicy, GetFlowsRequest } from '../hubble/flow-types.ts';
import { hubbleClients } from '../hubble/clients.ts';
import { flag, type Args } from './args.ts';

/** Usage of the command. */
export const OBSERVE_USAGE = `  observe [--name C] [--verdict DROPPED|FORWARDED] [--type drop|trace|policy-verdict|l7] [--pod NS/POD] [--namespace NS] [--last N] [--follow] [--server ADDR]
                                            flows of every node through the cluster's Hubble Relay, with the rule that decided each
                                            (the upstream CLI works too: eval "$(ciliate cluster env)"; hubble observe)`;

/** `--type` names, as `hubble observe` has them, and their monitor event types. */
const EVENT_TYPES: Record<string, number> = { drop: 1, trace: 4, 'policy-verdict': 5, l7: 129 };

/** The GetFlows request of the command's flags (a pod or namespace matches either end, as `hubble observe` does). */
export function observeRequest(args: Args): GetFlowsRequest {
  const verdict = flag(args, 'verdict')?.toUpperCase();
  const pod = flag(args, 'pod') ?? (flag(args, 'namespace') !== undefined ? `${flag(args, 'namespace')}/` : undefined);
  const typeName = flag(args, 'type');
  const type = typeName === undefined ? undefined : EVENT_TYPES[typeName.toLowerCase()];
  if (typeName !== undefined && type === undefined) throw new Error(`--type must be one of ${Object.keys(EVENT_TYPES).join(', ')}, not "${typeName}"`);
  const base: FlowFilter = { ...(verdict ? { verdict: [verdict] } : {}), ...(type !== undefined ? { event_type: [{ type }] } : {}) };
  const whitelist = pod ? [{ ...base, source_pod: [pod] }, { ...base, destination_pod: [pod] }] : Object.keys(base).length ? [base] : [];
  const last = flag(args, 'last');
  const number = last === undefined ? (args.flags.has('follow') ? 0 : 20) : Number(last);
  if (!Number.isInteger(number) || number < 0) throw new Error(`--last must be a whole number, not "${last}"`);
  return { number, follow: args.flags.has('follow'), whitelist };
}

function endpoint(e: FlowEndpoint, ip: string, port: number | undefined): string {
  const who = e.pod_name ? `${e.namespace}/${e.pod_name}` : ip;
  return `${who}${port ? `:${port}` : ''} (ID:${e.identity})`;
}

function policies(list: FlowPolicy[] | undefined): string[] {
  return (list ?? []).map((p) => [p.kind, p.namespace, p.name].filter(Boolean).join('/'));
}

/**
 * One flow as a line: time, node, both ends with their identities, the verdict and the deciding
 * rules; a pod's connection to itself through a Service shows as such (its source is the service
 * loopback address).
 */
export function formatFlow(f: Flow): string {
  const t = new Date(f.time.seconds * 1000 + Math.floor(f.time.nanos / 1e6));
  const stamp = `${t.toDateString().slice(4, 10)} ${t.toISOString().slice(11, 23)}`;
  const l4 = f.l4?.TCP ?? f.l4?.UDP ?? f.l4?.SCTP;
  const loopback = f.IP.source === SERVICE_LOOPBACK_IPV4 || f.IP.destination === SERVICE_LOOPBACK_IPV4 ? ' (service loopback)' : '';
  const summary = `${f.Summary ? ` (${f.Summary})` : ''}${loopback}`;
  const rules = policies(f.traffic_direction === 'INGRESS'
    ? (f.verdict === 'DROPPED' ? f.ingress_denied_by : f.ingress_allowed_by)
    : (f.verdict === 'DROPPED' ? f.egress_denied_by : f.egress_allowed_by));
  const by = rules.length ? ` by ${rules.join(', ')}` : '';
  const why = f.l7
    ? `${f.l7.dns ? 'dns' : 'http'}-${f.l7.type === 'RESPONSE' ? 'response' : 'request'} ${f.verdict}${summary}${by}`
    : f.verdict === 'DROPPED'
      ? `${dropReasonText(f.drop_reason ?? 0)} DROPPED${summary}${by || ': no rule allows it'}`
      : `${f.traffic_direction === 'INGRESS' ? 'to-endpoint' : 'from-endpoint'} ${f.verdict}${summary}${by}`;
  return `${stamp} [${f.node_name}]: ${endpoint(f.source, f.IP.source, l4?.source_port)} -> ${endpoint(f.destination, f.IP.destination, l4?.destination_port)} ${why}`;
}

/** Prints the flows the flags select; resolves with the exit code (following: until interrupted). */
export function observeCommand(args: Args): Promise<number> {
  const server = flag(args, 'server') ?? hubbleServer(clusterConfig(flag(args, 'name') ?? DEFAULT_CLUSTER));
  if (!server) throw new Error('the cluster has no nodes, so no Hubble server: start it with --nodes N');
  const req = observeRequest(args);
  const client = new (hubbleClients().observer)(server, credentials.createInsecure());
  const stream = client.GetFlows(req as Record<string, unknown>);
  process.once('SIGINT', () => stream.cancel());
  return new Promise((resolve) => {
    stream.on('data', (r: { flow?: Flow; node_status?: { state_change?: string; node_names?: string[]; message?: string } }) => {
      if (r.flow) console.log(formatFlow(r.flow));
      const s = r.node_status;
      if (s && (s.state_change === 'NODE_UNAVAILABLE' || s.state_change === 'NODE_ERROR')) {
        console.error(`warning: ${s.state_change === 'NODE_ERROR' ? 'error from' : 'unavailable:'} ${(s.node_names ?? []).join(', ')}${s.message ? `: ${s.message}` : ''}`);
      }
    });
    stream.on('error', (err: ServiceError) => {
      client.close();
      if (err.code === status.CANCELLED) return resolve(0); // Ctrl-C
      console.error(`ciliate observe: ${server}: ${err.details || err.message}`);
      resolve(1);
    });
    stream.on('end', () => {
      client.close();
      resolve(0);
    });
  });
}
