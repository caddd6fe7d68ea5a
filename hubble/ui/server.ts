/**
 * The service map's web server: the page (static/), the namespaces an Observer has seen, and live
 * flows as Server-Sent Events, each stream backed by its own followed GetFlows on the Observer (an
 * agent or the relay). A browser that reads too slowly loses flows (told as a `lost` event) instead
 * of growing the server's memory.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../runtime/logger.ts';
import type { FlowFilter, GetFlowsRequest } from '../flow-types.ts';
import type { ObserverClient } from './observer-client.ts';
import { toUiFlow } from './ui-flow.ts';

/** The page's files: beside this module, or CILIATE_HUBBLE_UI_DIR when bundled. */
export const STATIC_DIR = process.env.CILIATE_HUBBLE_UI_DIR || join(import.meta.dirname, 'static');

/** The files the page is made of, with their content types. */
export const STATIC_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** Flows of history a new stream starts with unless the page asks for another number. */
export const DEFAULT_HISTORY = 1000;
/** Unsent bytes a stream may hold before its flows are dropped. */
const MAX_BUFFERED = 1 << 20;
/** Comment lines keep idle streams open through proxies. */
const HEARTBEAT_MS = 15_000;

/** What the web server needs. */
export interface UiServerOptions {
  observer: ObserverClient;
  /** The Service at or behind `ip:port` when flows do not name one (the cluster's Services); none without. */
  serviceOf?: (ip: string, port: number | undefined) => string | undefined;
  log: Logger;
}

/** The filters of a namespace's flows: from or to a pod of it. */
export function namespaceFilters(namespace: string): FlowFilter[] {
  return namespace ? [{ source_pod: [`${namespace}/`] }, { destination_pod: [`${namespace}/`] }] : [];
}

/** The service map's HTTP server. */
export class UiServer {
  private readonly server: Server;
  private readonly files = new Map<string, Buffer>();

  /** Reads the page's files; nothing listens until {@link listen}. */
  constructor(private readonly o: UiServerOptions) {
    for (const name of Object.keys(STATIC_FILES)) this.files.set(name, readFileSync(join(STATIC_DIR, name)));
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on `host:port` (port 0: any); resolves with the bound port. */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /** Ends every stream and stops listening. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://ui');
    const path = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    if (req.method !== 'GET') {
      res.writeHead(405).end('method not allowed\n');
    } else if (this.files.has(path)) {
      res.writeHead(200, { 'Content-Type': STATIC_FILES[path]!, 'Cache-Control': 'no-cache' }).end(this.files.get(path));
    } else if (path === 'healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === 'api/namespaces') {
      this.o.observer.namespaces().then(
        (namespaces) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ namespaces })),
        (err: Error) => res.writeHead(502, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: err.message })),
      );
    } else if (path === 'api/flows') {
      this.streamFlows(url.searchParams, res);
    } else {
      res.writeHead(404).end('not found\n');
    }
  }

  private streamFlows(params: URLSearchParams, res: ServerResponse): void {
    const history = params.has('last') ? Number(params.get('last')) : DEFAULT_HISTORY;
    if (!Number.isInteger(history) || history < 0) {
      res.writeHead(400).end('last: a non-negative integer is required\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    let lost = 0;
    const send = (event: string, data: unknown): void => {
      if (res.writableLength > MAX_BUFFERED) {
        lost++;
        return;
      }
      if (lost) {
        res.write(`event: lost\ndata: ${JSON.stringify({ lost })}\n\n`);
        lost = 0;
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const req: GetFlowsRequest = { number: history, follow: true, whitelist: namespaceFilters(params.get('namespace') ?? '') };
    const cancel = this.o.observer.getFlows(req, (r) => {
      if (r.flow) {
        const f = r.flow;
        const port = f.l4?.TCP?.destination_port ?? f.l4?.UDP?.destination_port ?? f.l4?.SCTP?.destination_port;
        send('flow', toUiFlow(f, this.o.serviceOf?.(f.IP?.destination ?? '', port)));
      } else if (r.lost_events) {
        send('lost', { lost: r.lost_events.num_events_lost, source: r.lost_events.source });
      }
    }, (err) => {
      if (err) {
        this.o.log.warn('flow stream ended', { observer: this.o.observer.address, err: err.message });
        send('failure', { error: err.message });
      }
      res.end();
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(heartbeat);
      cancel();
    });
  }
}
