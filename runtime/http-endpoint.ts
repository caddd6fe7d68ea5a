// A small HTTP endpoint for daemons: Prometheus metrics, health, as a runnable server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import type { Runnable } from './manager.ts';

/** A request handler: returns status, content type and body, or undefined for 404. */
export type Route = () => Promise<{ status: number; type: string; body: string }>;

/**
 * An HTTP server serving `routes` on `host:port` (port 0 picks a free port) while running.
 * `bound` resolves with the actual port once listening.
 */
export class HttpEndpoint implements Runnable {
  /** Runs on every replica. */
  readonly needLeaderElection = false;
  private readonly server: Server;
  private resolveBound!: (port: number) => void;
  /** The port actually listened on. */
  readonly bound = new Promise<number>((resolve) => (this.resolveBound = resolve));

  /** Creates the server; nothing listens until {@link start}. */
  constructor(
    private readonly name: string,
    private readonly addr: { host: string; port: number },
    routes: Record<string, Route>,
    private readonly log: Logger,
  ) {
    this.server = createServer((req, res) => {
      const route = routes[(req.url ?? '/').split('?')[0]!];
      if (!route) {
        res.writeHead(404).end('not found\n');
        return;
      }
      route().then(
        (r) => res.writeHead(r.status, { 'Content-Type': r.type }).end(r.body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  }

  /** Listens until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.addr.port, this.addr.host || undefined, () => resolve());
    });
    const port = (this.server.address() as AddressInfo).port;
    this.log.info(`${this.name} listening`, { host: this.addr.host || '*', port });
    this.resolveBound(port);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Routes serving `registry` at /metrics. */
export function metricsRoutes(registry: Registry): Record<string, Route> {
  return { '/metrics': async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() }) };
}

