/**
 * A node's Hubble server: observer.Observer (GetFlows with history, filters and follow;
 * ServerStatus; GetNodes; GetNamespaces), peer.Peer Notify and grpc.health.v1 over gRPC, on a unix
 * socket and optionally a TCP address, answering from a {@link FlowRing}. A follower whose client
 * reads too slowly loses flows (reported to it as a LostEvent) instead of growing the queue.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Server, ServerCredentials, status, type ServerWritableStream, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { compileFilters, FilterError } from './filters.ts';
import type { Flow, GetFlowsRequest } from './flow-types.ts';
import { toTimestamp, timestampMs } from './flow-types.ts';
import { selectHistory } from './history.ts';
import { inTimeOrder, LostHistory } from './lost-history.ts';
import { hubbleServices } from './protos.ts';
import type { FlowRing } from './ring.ts';
import type { LostEventSource } from './metrics/hubble-metrics.ts';
import { StreamWriter } from './stream-writer.ts';

/** The health service name the `hubble` CLI checks. */
export const OBSERVER_HEALTH_SERVICE = 'hubble.server.Observer';

/** A Hubble peer: a node serving Hubble. */
export interface HubblePeer {
  name: string;
  /** `ip:port` of its Hubble TCP listener. */
  address: string;
}

/** Where the peers come from (the cluster's nodes). */
export interface PeerSource {
  list(): HubblePeer[];
  /** Calls back on each change until the returned function is called. */
  watch(onChange: (type: 'PEER_ADDED' | 'PEER_DELETED' | 'PEER_UPDATED', peer: HubblePeer) => void): () => void;
}

/** What the server says about itself. */
export interface HubbleServerOptions {
  nodeName: string;
  clusterName: string;
  version: string;
  /** `ip:port` this node's TCP listener is reached at (GetNodes); empty: none. */
  address: string;
  peers: PeerSource;
  now?: () => number;
  /** Called with every count of events lost for a client (a follower too slow for the ring's flows). */
  onLost?: (source: LostEventSource, n: number) => void;
}

type Message = Record<string, unknown>;

/** The gRPC server of one node's Hubble. */
export class HubbleServer {
  private readonly server = new Server();
  private readonly started: number;
  private readonly now: () => number;
  /** The open follow streams, for losses that concern every follower. */
  private readonly followers = new Set<StreamWriter>();
  /** Recent losses reported to followers, for history requests. */
  private readonly lostHistory = new LostHistory();

  /** Registers the services; nothing listens until {@link listen}. */
  constructor(private readonly ring: FlowRing, private readonly o: HubbleServerOptions) {
    this.now = o.now ?? Date.now;
    this.started = this.now();
    const svc = hubbleServices();
    this.server.addService(svc.observer, this.observer());
    this.server.addService(svc.peer, { Notify: (call: ServerWritableStream<Message, Message>) => this.notify(call) });
    this.server.addService(svc.health, {
      Check: (call: ServerUnaryCall<{ service?: string }, Message>, cb: sendUnaryData<Message>) => {
        if (!healthy(call.request.service)) cb({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else cb(null, { status: 'SERVING' });
      },
      Watch: (call: ServerWritableStream<{ service?: string }, Message>) => {
        call.write({ status: healthy(call.request.service) ? 'SERVING' : 'SERVICE_UNKNOWN' });
      },
    });
  }

  /** Listens on `unix://socketPath` and, when given, `host:port`; resolves once bound. */
  async listen(socketPath: string, tcp?: string): Promise<void> {
    mkdirSync(dirname(socketPath), { recursive: true });
    rmSync(socketPath, { force: true });
    const bind = (addr: string) => new Promise<void>((resolve, reject) => {
      this.server.bindAsync(addr, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    await bind(`unix://${socketPath}`);
    if (tcp) await bind(tcp);
  }

  /** Stops at once, ending open streams. */
  close(): void {
    this.server.forceShutdown();
  }

  /**
   * Tells every follower that `n` events were lost at `source` (e.g. the kernel's event buffer), and
   * keeps the report for history requests.
   */
  reportLost(source: LostEventSource, n: number): void {
    if (n <= 0) return;
    const ms = this.now();
    this.lostHistory.add({ ms, source, n });
    for (const out of this.followers) out.send(this.lostEvents(source, n, ms), false);
  }

  /** A GetFlowsResponse reporting lost events. */
  private lostEvents(source: LostEventSource, n: number, ms = this.now()): Message {
    return { lost_events: { source, num_events_lost: n }, node_name: this.o.nodeName, time: toTimestamp(ms) };
  }

  /** ServerStatus's answer. */
  status(): Message {
    const now = this.now();
    const recent = this.ring.countSince(now - 60_000);
    return {
      num_flows: this.ring.size, max_flows: this.ring.capacity, seen_flows: this.ring.seen,
      uptime_ns: (now - this.started) * 1e6, version: this.o.version, flows_rate: recent / 60,
    };
  }

  private observer(): UntypedServiceImplementation {
    return {
      GetFlows: (call: ServerWritableStream<GetFlowsRequest, Message>) => this.getFlows(call),
      ServerStatus: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => cb(null, this.status()),
      GetNodes: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => cb(null, {
        nodes: [{
          name: this.o.nodeName, version: this.o.version, address: this.o.address, state: 'NODE_CONNECTED', tls: { enabled: false },
          uptime_ns: (this.now() - this.started) * 1e6, num_flows: this.ring.size, max_flows: this.ring.capacity, seen_flows: this.ring.seen,
        }],
      }),
      GetNamespaces: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => {
        const names = new Set<string>();
        for (const f of this.ring.snapshot()) {
          for (const ns of [f.source.namespace, f.destination.namespace]) if (ns) names.add(ns);
        }
        cb(null, { namespaces: [...names].sort().map((namespace) => ({ cluster: this.o.clusterName, namespace })) });
      },
    };
  }

  private getFlows(call: ServerWritableStream<GetFlowsRequest, Message>): void {
    const req = call.request;
    let matches: (f: Flow) => boolean;
    try {
      matches = compileFilters(req.whitelist ?? [], req.blacklist ?? []);
    } catch (err) {
      const details = err instanceof FilterError ? err.message : `invalid filter: ${(err as Error).message}`;
      call.emit('error', { code: status.INVALID_ARGUMENT, details });
      return;
    }
    const out = new StreamWriter(call, undefined, () => this.o.onLost?.('HUBBLE_RING_BUFFER', 1));
    const wrap = (flow: Flow): Message => ({ flow, node_name: this.o.nodeName, time: flow.time });
    const history = selectHistory(this.ring, req, matches);
    // Losses since the oldest flow answered (nothing answered: none) go among the flows.
    const lost = history.length ? this.lostHistory.between(timestampMs(history[0]!.time), req.until ? timestampMs(req.until) : Infinity) : [];
    inTimeOrder(history, lost, (f) => out.send(wrap(f), false), (r) => out.send(this.lostEvents(r.source, r.n, r.ms), false));
    if (!req.follow) {
      out.finish();
      return;
    }
    const since = req.since ? timestampMs(req.since) : -Infinity;
    const until = req.until ? timestampMs(req.until) : Infinity;
    const stop = this.ring.listen((f) => {
      const t = timestampMs(f.time);
      if (t > until) {
        stop();
        out.finish();
      } else if (t >= since && matches(f)) {
        out.send(wrap(f), true, () => this.lostEvents('HUBBLE_RING_BUFFER', out.lost));
      }
    });
    this.followers.add(out);
    const unfollow = () => {
      stop();
      this.followers.delete(out);
    };
    call.on('cancelled', unfollow);
    call.on('close', unfollow);
    call.on('error', unfollow);
  }

  private notify(call: ServerWritableStream<Message, Message>): void {
    const send = (type: string, p: HubblePeer) => call.write({ name: p.name, address: p.address, type });
    for (const p of this.o.peers.list()) send('PEER_ADDED', p);
    const stop = this.o.peers.watch(send);
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }
}

/** Whether a health check names a service this server answers for (none: the server as a whole). */
export function healthy(service: string | undefined): boolean {
  return !service || service === OBSERVER_HEALTH_SERVICE;
}
