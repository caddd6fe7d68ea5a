/**
 * The relay's peers: who serves Hubble, learnt from a peer.Peer Notify stream (the `hubble-peer`
 * Service, or any agent), and one gRPC connection to each. A peer is available while its health
 * check answers SERVING within a timeout; a peer whose agent died, hung or left is unavailable
 * until it answers again, so no query waits on it.
 */
import { connectivityState, credentials, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../../runtime/logger.ts';
import { hubbleClients, type HealthClient, type ObserverClient, type PeerClient } from '../clients.ts';

/** Upstream's port of a node's Hubble server, used when a peer's address has none. */
export const DEFAULT_PEER_PORT = 4244;

/** A peer as queries see it. */
export interface RelayPeer {
  name: string;
  /** `host:port` of its Hubble server (empty when the peer service gave none). */
  address: string;
  /** Whether its last health check answered in time. */
  available: boolean;
  /** Its Observer client (calls on an unavailable peer fail fast or wait; check `available` first). */
  observer: ObserverClient;
}

/** How the pool behaves. */
export interface PeerPoolOptions {
  /** gRPC target of the peer.Peer service. */
  peerService: string;
  /** Wait before reconnecting to the peer service after its stream failed. */
  retryTimeoutMs: number;
  /** Health check period per peer. */
  probeIntervalMs?: number;
  /** Health check deadline; also how long a hung peer can look available. */
  probeTimeoutMs?: number;
  log: Logger;
}

/**
 * Every peer connection: keepalive, so a session to a hung peer is noticed and closed; reconnect
 * backoff capped at 5 s (gRPC's own cap is 2 min), so an agent that restarts is back within a
 * health check or two.
 */
const CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000, 'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000,
};

/** A peer address with upstream's default port added when it has none. */
export function peerTarget(address: string): string {
  if (address === '' || address.startsWith('unix:')) return address;
  if (/^\[.*\]:\d+$/.test(address) || /^[^:]+:\d+$/.test(address)) return address;
  return address.includes(':') ? `[${address}]:${DEFAULT_PEER_PORT}` : `${address}:${DEFAULT_PEER_PORT}`;
}

/** One peer's connection and its health. */
class PeerConnection {
  available = false;
  readonly observer: ObserverClient;
  private readonly health: HealthClient;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private probing = false;

  constructor(readonly name: string, readonly address: string, private readonly o: Required<Omit<PeerPoolOptions, 'peerService' | 'retryTimeoutMs'>>) {
    const c = hubbleClients();
    const target = peerTarget(address) || 'unix:///nonexistent';
    this.observer = new c.observer(target, credentials.createInsecure(), CHANNEL_OPTIONS);
    this.health = new c.health(target, credentials.createInsecure(), { channelOverride: this.observer.getChannel() });
    this.watchChannel(this.observer.getChannel().getConnectivityState(true));
    this.probe();
  }

  /** Checks health now, then every probe interval. */
  private probe(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.probe(), this.o.probeIntervalMs);
    if (this.probing || !this.address) return;
    this.probing = true;
    this.health.Check({ service: '' }, { deadline: Date.now() + this.o.probeTimeoutMs }, (err, res) => {
      this.probing = false;
      if (this.closed) return;
      const ok = !err && res?.status === 'SERVING';
      if (ok !== this.available) this.o.log.info(ok ? 'peer available' : 'peer unavailable', { peer: this.name, address: this.address, ...(err ? { err: err.details || err.message } : {}) });
      this.available = ok;
    });
  }

  /** Marks the peer unavailable when its connection fails, and checks again when it closes. */
  private watchChannel(state: connectivityState): void {
    if (this.closed) return;
    this.observer.getChannel().watchConnectivityState(state, Infinity, () => {
      if (this.closed) return;
      const now = this.observer.getChannel().getConnectivityState(false);
      if (now === connectivityState.TRANSIENT_FAILURE || now === connectivityState.SHUTDOWN) this.available = false;
      if (now === connectivityState.IDLE && state === connectivityState.READY) this.probe();
      this.watchChannel(now);
    });
  }

  close(): void {
    this.closed = true;
    this.available = false;
    clearTimeout(this.timer);
    this.observer.close();
  }
}

/** The peers known from the peer service, each with its connection. */
export class PeerPool {
  private readonly peers = new Map<string, PeerConnection>();
  private notify: ClientReadableStream<unknown> | undefined;
  private peerClient: PeerClient | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Whether the Notify stream is open. */
  peerServiceConnected = false;

  constructor(private readonly o: PeerPoolOptions) {}

  /** Connects to the peer service and keeps following it (reconnecting after retry-timeout). */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Closes every connection. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.notify?.cancel();
    this.peerClient?.close();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }

  /** The peers, sorted by name. */
  list(): RelayPeer[] {
    return [...this.peers.values()].sort((a, b) => a.name.localeCompare(b.name))
      .map((p) => ({ name: p.name, address: p.address, available: p.available, observer: p.observer }));
  }

  private connect(): void {
    if (this.stopped) return;
    const log = this.o.log;
    this.peerClient ??= new (hubbleClients().peer)(this.o.peerService, credentials.createInsecure(), CHANNEL_OPTIONS);
    const stream = this.peerClient.Notify({});
    this.notify = stream;
    stream.on('metadata', () => (this.peerServiceConnected = true));
    stream.on('data', (cn) => {
      this.peerServiceConnected = true;
      const name = cn.name ?? '';
      if (!name) return;
      if (cn.type === 'PEER_DELETED') this.remove(name);
      else if (cn.type === 'PEER_ADDED' || cn.type === 'PEER_UPDATED') this.upsert(name, cn.address ?? '');
    });
    const again = (why: string) => {
      if (this.notify !== stream) return;
      this.notify = undefined;
      this.peerServiceConnected = false;
      if (this.stopped) return;
      log.info('peer service stream ended; trying again after retry-timeout', { target: this.o.peerService, why, retryMs: this.o.retryTimeoutMs });
      this.retry = setTimeout(() => this.connect(), this.o.retryTimeoutMs);
    };
    stream.on('error', (err: ServiceError) => again(err.code === status.CANCELLED ? 'cancelled' : err.details || err.message));
    stream.on('end', () => again('ended'));
  }

  private upsert(name: string, address: string): void {
    const old = this.peers.get(name);
    if (old && old.address === address) return;
    old?.close();
    this.o.log.info('peer added', { peer: name, address });
    this.peers.set(name, new PeerConnection(name, address, { probeIntervalMs: this.o.probeIntervalMs ?? 5_000, probeTimeoutMs: this.o.probeTimeoutMs ?? 3_000, log: this.o.log }));
  }

  private remove(name: string): void {
    const p = this.peers.get(name);
    if (!p) return;
    this.o.log.info('peer removed', { peer: name });
    p.close();
    this.peers.delete(name);
  }
}
