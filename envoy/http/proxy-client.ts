/**
 * The agent's end of the HTTP proxy process's socket: an L7 policy receiver of the agent's table
 * whose acknowledgements come back over the socket (in the order the updates went), and the source
 * of the proxy's flow records. While it is not connected, updates fail at once (the table shows
 * why and the proxy enforces what it last acknowledged); the supervisor resends the whole table on
 * every connection.
 */
import net from 'node:net';
import type { L7PolicyAck, L7PolicyReceiver, L7PolicyUpdate } from '../l7-policy-table.ts';
import { exchangeRecords, flowFromWire, readMessages, sendMessage, UNREAD_VERSION, type ProxyMessage, type ProxySettings } from '../proxy-protocol.ts';
import type { HttpFlowRecord } from './proxy.ts';

interface Pending {
  resolve(ack: L7PolicyAck): void;
  reject(err: Error): void;
}

/** A connection to the proxy process, reusable across reconnections. */
export class HttpProxyClient implements L7PolicyReceiver {
  readonly name = 'http';
  #socket: net.Socket | undefined;
  #pending: Pending[] = [];

  constructor(private readonly onFlow: (flow: HttpFlowRecord) => void, private readonly onError: (err: Error) => void) {}

  /** Connects to `path`; resolves with the connection's end (`closed`), rejects when nothing answers. */
  connect(path: string): Promise<{ closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', (err) => this.onError(err));
        this.#socket = socket;
        const closed = new Promise<void>((done) => socket.once('close', () => {
          if (this.#socket === socket) this.#socket = undefined;
          const pending = this.#pending;
          this.#pending = [];
          for (const p of pending) p.reject(new Error('the http proxy connection closed before it answered'));
          done();
        }));
        readMessages<ProxyMessage>(socket, (m) => this.#onMessage(m), this.onError);
        resolve({ closed });
      });
    });
  }

  /** Closes the connection (the proxy keeps running and enforcing). */
  disconnect(): void {
    this.#socket?.destroy();
  }

  /** Sends the agent's settings (no answer); false when not connected. */
  sendSettings(settings: ProxySettings): boolean {
    if (!this.#socket) return false;
    sendMessage(this.#socket, { type: 'settings', settings });
    return true;
  }

  /** Sends an update; the proxy's acknowledgement, or a failure when it is not connected or goes away. */
  apply(update: L7PolicyUpdate): Promise<L7PolicyAck> {
    const socket = this.#socket;
    if (!socket) return Promise.reject(new Error('the http proxy is not connected'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      sendMessage(socket, { type: 'policy', update });
    });
  }

  #onMessage(m: ProxyMessage): void {
    if (m.type === 'exchange') {
      for (const r of exchangeRecords(m.x)) this.onFlow(r);
      return;
    }
    if (m.type === 'flow') return this.onFlow(flowFromWire(m.flow));
    if (m.type !== 'ack') throw new Error(`http proxy socket: unknown message type ${JSON.stringify((m as { type?: unknown }).type)}`);
    const p = this.#pending.shift();
    if (!p) throw new Error('http proxy socket: an acknowledgement for no update');
    if (m.ack.version === UNREAD_VERSION) p.reject(new Error(m.ack.error ?? 'refused'));
    else p.resolve(m.ack);
  }
}
