/**
 * The Hubble Relay's gRPC server: observer.Observer for the whole cluster and grpc.health.v1.
 * GetFlows fans the request out to every available peer and merges their streams by time (see
 * merge.ts), announcing which nodes answer and which are unavailable as upstream's relay does;
 * `--last N` without follow is the newest N of the whole cluster, `--first N` the oldest N.
 * ServerStatus, GetNodes and GetNamespaces aggregate the peers' answers. A peer that fails or stalls
 * is reported and left out; a client that goes away cancels every upstream stream.
 */
import { hostname } from 'node:os';
import { Server, ServerCredentials, status, type ClientReadableStream, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../../runtime/logger.ts';
import { compileFilters, FilterError } from '../filters.ts';
import type { GetFlowsRequest } from '../flow-types.ts';
import { toTimestamp } from '../flow-types.ts';
import { hubbleServices } from '../protos.ts';
import { healthy } from '../server.ts';
import { TimeMerge, type Timed } from './merge.ts';
import type { RelayPeer } from './peer-pool.ts';

type Message = Record<string, unknown> & Timed;

/** Most unavailable nodes ServerStatus names (upstream's bound). */
export const UNAVAILABLE_NODES_REPORT_MAX = 10;

/** What the relay needs to know. */
export interface RelayServerOptions {
  /** The peers and their state. */
  peers: () => RelayPeer[];
  /** Whether the peer service's stream is open (health). */
  peerServiceConnected: () => boolean;
  version: string;
  sortBufferLenMax: number;
  sortBufferDrainTimeoutMs: number;
  /** Deadline of each peer's unary call. */
  callTimeoutMs?: number;
  /** A peer stream of a non-following query silent this long is given up (reported as an error). */
  stallTimeoutMs?: number;
  /** How often a following query looks for peers that became available. */
  peerUpdateIntervalMs?: number;
  log: Logger;
}

/** The relay's gRPC server. */
export class RelayServer {
  private readonly servers: Server[] = [];
  private readonly name = hostname();
  /** The port {@link listen} bound the Observer API to (useful with port 0). */
  port = 0;

  /** @param o the peers and the relay's settings. */
  constructor(private readonly o: RelayServerOptions) {}

  /** Serves Observer and health on `address`, and health alone on `healthAddress` when given; resolves once bound. */
  async listen(address: string, healthAddress?: string): Promise<void> {
    const svc = hubbleServices();
    const main = new Server();
    main.addService(svc.observer, this.observer());
    main.addService(svc.health, this.health());
    this.port = await bind(main, address);
    this.servers.push(main);
    if (healthAddress) {
      const health = new Server();
      health.addService(svc.health, this.health());
      await bind(health, healthAddress);
      this.servers.push(health);
    }
  }

  /** Stops at once, ending open streams (their upstream streams are cancelled). */
  close(): void {
    for (const s of this.servers) s.forceShutdown();
  }

  private serving(): boolean {
    return this.o.peerServiceConnected() && this.o.peers().some((p) => p.available);
  }

  private health(): UntypedServiceImplementation {
    const state = () => (this.serving() ? 'SERVING' : 'NOT_SERVING');
    return {
      Check: (call: ServerUnaryCall<{ service?: string }, Message>, cb: sendUnaryData<Message>) => {
        if (!healthy(call.request.service)) cb({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else cb(null, { status: state() });
      },
      Watch: (call: ServerWritableStream<{ service?: string }, Message>) => {
        call.write({ status: healthy(call.request.service) ? state() : 'SERVICE_UNKNOWN' });
      },
    };
  }

  private observer(): UntypedServiceImplementation {
    return {
      GetFlows: (call: ServerWritableStream<GetFlowsRequest, Message>) => this.getFlows(call),
      ServerStatus: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => {
        this.serverStatus().then((r) => cb(null, r), (err: Error) => cb({ code: status.INTERNAL, details: err.message }));
      },
      GetNodes: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => {
        this.nodes().then((r) => cb(null, r), (err: Error) => cb({ code: status.INTERNAL, details: err.message }));
      },
      GetNamespaces: (_call: ServerUnaryCall<Message, Message>, cb: sendUnaryData<Message>) => {
        this.namespaces().then((r) => cb(null, r), (err: Error) => cb({ code: status.INTERNAL, details: err.message }));
      },
    };
  }

  /** A unary Observer call on a peer, with a deadline. */
  private unary(peer: RelayPeer, method: 'ServerStatus' | 'GetNamespaces'): Promise<Message> {
    return new Promise((resolve, reject) => {
      peer.observer[method]({}, { deadline: Date.now() + (this.o.callTimeoutMs ?? 5_000) }, (err, res) => (err ? reject(err) : resolve(res ?? {})));
    });
  }

  /** Each peer's ServerStatus (undefined: unavailable or failed). */
  private async statuses(peers: RelayPeer[]): Promise<(Message | undefined)[]> {
    return Promise.all(peers.map(async (p) => {
      if (!p.available) return undefined;
      try {
        return await this.unary(p, 'ServerStatus');
      } catch (err) {
        this.o.log.warn('peer ServerStatus failed', { peer: p.name, err: (err as ServiceError).details || (err as Error).message });
        return undefined;
      }
    }));
  }

  /** The cluster's ServerStatus: the peers' sums, the longest uptime, and who is unavailable. */
  async serverStatus(): Promise<Message> {
    const peers = this.o.peers();
    const statuses = await this.statuses(peers);
    const sum = (field: string) => statuses.reduce((n, s) => n + Number(s?.[field] ?? 0), 0);
    const unavailable = peers.filter((_, i) => !statuses[i]).map((p) => p.name);
    return {
      num_flows: sum('num_flows'), max_flows: sum('max_flows'), seen_flows: sum('seen_flows'), flows_rate: sum('flows_rate'),
      uptime_ns: Math.max(0, ...statuses.map((s) => Number(s?.uptime_ns ?? 0))),
      num_connected_nodes: { value: peers.length - unavailable.length }, num_unavailable_nodes: { value: unavailable.length },
      unavailable_nodes: unavailable.slice(0, UNAVAILABLE_NODES_REPORT_MAX), version: this.o.version,
    };
  }

  /** GetNodes: every peer with its state, and its figures when it answered. */
  async nodes(): Promise<Message> {
    const peers = this.o.peers();
    const statuses = await this.statuses(peers);
    return {
      nodes: peers.map((p, i) => {
        const s = statuses[i];
        const state = !p.available ? 'NODE_UNAVAILABLE' : s ? 'NODE_CONNECTED' : 'NODE_ERROR';
        return {
          name: p.name, address: p.address, state, tls: { enabled: false },
          ...(s ? { version: s.version, uptime_ns: s.uptime_ns, num_flows: s.num_flows, max_flows: s.max_flows, seen_flows: s.seen_flows } : {}),
        };
      }),
    };
  }

  /** GetNamespaces: the available peers' namespaces, merged and sorted. */
  async namespaces(): Promise<Message> {
    const seen = new Map<string, { cluster: string; namespace: string }>();
    await Promise.all(this.o.peers().filter((p) => p.available).map(async (p) => {
      try {
        const r = await this.unary(p, 'GetNamespaces');
        for (const ns of (r.namespaces ?? []) as { cluster?: string; namespace?: string }[]) {
          const n = { cluster: ns.cluster ?? '', namespace: ns.namespace ?? '' };
          seen.set(`${n.cluster}/${n.namespace}`, n);
        }
      } catch (err) {
        this.o.log.warn('peer GetNamespaces failed', { peer: p.name, err: (err as ServiceError).details || (err as Error).message });
      }
    }));
    return { namespaces: [...seen.values()].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.namespace.localeCompare(b.namespace)) };
  }

  private nodeStatus(state: string, names: string[], message?: string): Message {
    return { node_status: { state_change: state, node_names: names, ...(message ? { message } : {}) }, node_name: this.name, time: toTimestamp(Date.now()) };
  }

  private getFlows(call: ServerWritableStream<GetFlowsRequest, Message>): void {
    const req = call.request;
    try {
      compileFilters(req.whitelist ?? [], req.blacklist ?? []);
    } catch (err) {
      const details = err instanceof FilterError ? err.message : `invalid filter: ${(err as Error).message}`;
      call.emit('error', { code: status.INVALID_ARGUMENT, details });
      return;
    }
    new FlowsFanOut(call, this.o, (state, names, message) => this.nodeStatus(state, names, message)).start();
  }
}

/** One GetFlows call of the relay: its peer streams, their merge, and its end. */
class FlowsFanOut {
  private readonly upstream = new Map<string, ClientReadableStream<Message>>();
  private readonly merge: TimeMerge<Message>;
  private readonly number: number;
  /** The newest responses so far, for `last N` without follow. */
  private readonly tail: Message[] = [];
  private emitted = 0;
  private closed = false;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: ServerWritableStream<GetFlowsRequest, Message>,
    private readonly o: RelayServerOptions,
    private readonly status: (state: string, names: string[], message?: string) => Message,
  ) {
    const req = call.request;
    this.number = req.follow ? 0 : Number(req.number ?? 0);
    this.merge = new TimeMerge<Message>({
      follow: Boolean(req.follow), sortBufferLenMax: o.sortBufferLenMax, drainTimeoutMs: o.sortBufferDrainTimeoutMs,
      emit: (item) => this.emit(item),
      done: () => this.end(),
    });
  }

  start(): void {
    const call = this.call;
    for (const ev of ['cancelled', 'close', 'error'] as const) call.on(ev, () => this.stop());
    const { connected, unavailable } = this.collect();
    if (connected.length > 0) call.write(this.status('NODE_CONNECTED', connected));
    if (unavailable.length > 0) call.write(this.status('NODE_UNAVAILABLE', unavailable));
    if (call.request.follow) this.poll = setInterval(() => this.collect(), this.o.peerUpdateIntervalMs ?? 2_000);
    this.merge.seal();
  }

  /** Opens a stream to every available peer that has none yet; returns who answers and who cannot. */
  private collect(): { connected: string[]; unavailable: string[] } {
    const connected: string[] = [];
    const unavailable: string[] = [];
    for (const p of this.o.peers()) {
      if (this.upstream.has(p.name)) connected.push(p.name);
      else if (!p.available) unavailable.push(p.name);
      else {
        connected.push(p.name);
        this.open(p);
      }
    }
    return { connected, unavailable };
  }

  private open(p: RelayPeer): void {
    const stream = p.observer.GetFlows(this.call.request as Record<string, unknown>);
    this.upstream.set(p.name, stream);
    let paused = false;
    let stall: NodeJS.Timeout | undefined;
    const watch = () => {
      clearTimeout(stall);
      if (this.call.request.follow || paused) return;
      stall = setTimeout(() => {
        this.o.log.warn('peer stream stalled; leaving it out', { peer: p.name });
        fail(`no response from ${p.name} within ${(this.o.stallTimeoutMs ?? 10_000) / 1000}s`);
        stream.cancel();
      }, this.o.stallTimeoutMs ?? 10_000);
    };
    const source = this.merge.add(() => {
      paused = true;
      clearTimeout(stall);
      stream.pause();
    }, () => {
      paused = false;
      watch();
      stream.resume();
    });
    let failed = false;
    const fail = (message: string) => {
      if (failed || this.closed) return;
      failed = true;
      this.call.write(this.status('NODE_ERROR', [p.name], message));
    };
    const finish = () => {
      clearTimeout(stall);
      if (this.upstream.get(p.name) === stream) this.upstream.delete(p.name);
      source.end();
    };
    watch();
    stream.on('data', (m: Message) => {
      watch();
      source.push(m);
    });
    stream.on('error', (err: ServiceError) => {
      if (err.code !== status.CANCELLED) {
        this.o.log.warn('peer GetFlows failed', { peer: p.name, err: err.details || err.message });
        fail(err.details || err.message);
      }
      finish();
    });
    stream.on('end', finish);
  }

  private emit(item: Message): boolean {
    if (this.closed) return true;
    if (this.number > 0 && !this.call.request.first) {
      this.tail.push(item);
      if (this.tail.length > 2 * this.number) this.tail.splice(0, this.tail.length - this.number);
      return true;
    }
    const ok = this.call.write(item);
    if (this.number > 0 && ++this.emitted >= this.number) {
      this.end();
      return true;
    }
    if (!ok) this.call.once('drain', () => this.merge.resume());
    return ok;
  }

  /** Writes what `last N` kept, then ends the call. */
  private end(): void {
    if (this.closed) return;
    for (const item of this.tail.slice(-this.number)) this.call.write(item);
    this.stop();
    this.call.end();
  }

  /** Cancels every upstream stream and stops merging. */
  private stop(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    this.merge.close();
    for (const s of [...this.upstream.values()]) s.cancel();
    this.upstream.clear();
  }
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}
