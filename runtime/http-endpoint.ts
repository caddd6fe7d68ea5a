// A small HTTP endpoint for daemons: Prometheus metrics, health, as a runnable server.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import type { Runnable } from './manager.ts';

/** What a route sees of its request: the URL (path and query) and a signal that aborts when the client goes away. */
export interface RouteRequest {
  url: URL;
  signal: AbortSignal;
}

/** A request handler: returns status, content type and body. */
export type Route = (req: RouteRequest) => Promise<{ status: number; type: string; body: string }>;

/** Where an endpoint listens: a TCP address, or a unix socket only root can open (`path`). */
export type ListenAddress = { host: string; port: number } | { path: string };

/**
 * An HTTP server serving `routes` on `host:port` (port 0 picks a free port) while running.
 * `bound` resolves with the actual port once listening.
 */
export class HttpEndpoint implements Runnable {
  /** Runs on every replica. */
  readonly needLeaderElection = false;
  private readonly server: Server;
  private resolveBound!: (port: number) => void;
  /** The port actually listened on (0 on a unix socket). */
  readonly bound = new Promise<number>((resolve) => (this.resolveBound = resolve));

  /** Creates the server; nothing listens until {@link start}. */
  constructor(
    private readonly name: string,
    private readonly addr: ListenAddress,
    routes: Record<string, Route>,
    private readonly log: Logger,
  ) {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = routes[url.pathname];
      if (!route) {
        res.writeHead(404).end('not found\n');
        return;
      }
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      route({ url, signal: gone.signal }).then(
        (r) => res.writeHead(r.status, { 'Content-Type': r.type }).end(r.body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  }

  /** Listens until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const addr = this.addr;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      if ('path' in addr) {
        mkdirSync(dirname(addr.path), { recursive: true, mode: 0o700 });
        rmSync(addr.path, { force: true });
        // The umask keeps the socket private from the moment it exists (a unix socket binds within listen()).
        const umask = process.umask(0o177);
        try {
          this.server.listen(addr.path, () => {
            chmodSync(addr.path, 0o600);
            resolve();
          });
        } finally {
          process.umask(umask);
        }
      } else {
        this.server.listen(addr.port, addr.host || undefined, () => resolve());
      }
    });
    if ('path' in addr) {
      this.log.info(`${this.name} listening`, { socket: addr.path });
      this.resolveBound(0);
    } else {
      const port = (this.server.address() as AddressInfo).port;
      this.log.info(`${this.name} listening`, { host: addr.host || '*', port });
      this.resolveBound(port);
    }
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if ('path' in addr) rmSync(addr.path, { force: true });
  }
}

/** Routes serving `registry` at /metrics. */
export function metricsRoutes(registry: Registry): Record<string, Route> {
  return { '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }) };
}

