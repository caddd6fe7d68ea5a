/**
 * The proxy process's side of the agent's socket: a root-only unix socket where the agent connects,
 * sends its settings, pushes L7 policy updates (each applied to the proxy's policy store and answered with its
 * acknowledgement, in order) and receives every exchange's flow records. Several agent connections may be open
 * for a moment (a restarted agent before the old connection is noticed gone): each gets the flows.
 * Policy stays as last applied while no agent is connected.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../../runtime/logger.ts';
import type { L7PolicyAck } from '../l7-policy-table.ts';
import { exchangeMessage, IN_BATCH, readMessages, REQUEST_PART, RESPONSE_PART, sendMessage, UNREAD_VERSION, type AgentMessage, type ProxySettings } from '../proxy-protocol.ts';
import type { HttpExchange } from './exchange.ts';
import type { HttpPolicyStore } from './policy-store.ts';
import type { HttpExchangeSink } from './proxy.ts';

/** How long an exchange's record waits for others (and for its response) to share its write. */
const FLOW_BATCH_MS = 20;
/** Exchanges waiting that are sent at once, however young. */
const FLOW_BATCH_MAX = 256;

/** Whether something accepts connections on the unix socket at `path`. */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The agent-facing socket of the proxy process; the proxy's exchange sink. */
export class ProxyControlServer implements HttpExchangeSink {
  readonly #agents = new Set<net.Socket>();
  readonly #server: net.Server;
  /** Exchanges with a part not yet sent, in the order their parts came. */
  #waiting: HttpExchange[] = [];
  #flowTimer: NodeJS.Timeout | undefined;

  /** `onSettings`: the settings an agent sent (on each of its connections). */
  constructor(private readonly store: HttpPolicyStore, private readonly log: Logger, private readonly onSettings: (s: ProxySettings) => void = () => undefined) {
    this.#server = net.createServer((s) => this.#onAgent(s));
  }

  /** Listens at `path` (its folder made root-only), replacing a stale socket file. */
  async listen(path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
  }

  /**
   * A decided request, for every connected agent (none connected: it is not kept). Exchanges go
   * out in batches, at most FLOW_BATCH_MS after they were decided, and are formatted only then: a
   * write (and the agent's wakeup) per request would compete with the requests themselves, and a
   * response that comes before its batch leaves shares its request's message.
   */
  request(e: HttpExchange): void {
    this.#wait(e);
  }

  /** A complete response: sent with its request when that is still waiting, in a message of its own otherwise. */
  response(e: HttpExchange): void {
    if (!(e.wireState & IN_BATCH)) this.#wait(e);
  }

  #wait(e: HttpExchange): void {
    if (this.#agents.size === 0) return;
    e.wireState |= IN_BATCH;
    this.#waiting.push(e);
    if (this.#waiting.length >= FLOW_BATCH_MAX) this.#sendFlows();
    else this.#flowTimer ??= setTimeout(() => this.#sendFlows(), FLOW_BATCH_MS);
  }

  #sendFlows(): void {
    clearTimeout(this.#flowTimer);
    this.#flowTimer = undefined;
    if (this.#waiting.length === 0) return;
    let lines = '';
    for (const e of this.#waiting) {
      const parts = (REQUEST_PART | (e.response ? RESPONSE_PART : 0)) & ~e.wireState;
      e.wireState = (e.wireState | parts) & ~IN_BATCH;
      if (parts === 0) continue;
      lines += exchangeMessage(e, parts) + '\n';
    }
    this.#waiting = [];
    for (const a of this.#agents) if (a.writable) a.write(lines);
  }

  /** The number of connected agents. */
  get agents(): number {
    return this.#agents.size;
  }

  /** Stops listening and drops the agents' connections. */
  close(): void {
    this.#sendFlows();
    this.#server.close();
    for (const a of this.#agents) a.destroy();
  }

  #onAgent(socket: net.Socket): void {
    this.#agents.add(socket);
    this.log.info('agent connected', { agents: this.#agents.size });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#agents.delete(socket);
      this.log.info('agent disconnected; enforcing the last policy', { agents: this.#agents.size });
    });
    readMessages<AgentMessage>(socket, (m) => {
      if (m.type === 'settings') return this.onSettings(m.settings);
      if (m.type !== 'policy') throw new Error(`proxy socket: unknown message type ${JSON.stringify((m as { type?: unknown }).type)}`);
      let ack: L7PolicyAck;
      try {
        ack = this.store.apply(m.update);
      } catch (err) {
        // An update the store cannot even read: refused, the previous version stays (see UNREAD_VERSION).
        ack = { version: UNREAD_VERSION, error: `endpoint ${m.update.endpointId}: ${(err as Error).message}` };
      }
      if (ack.error) this.log.warn('policy update refused', { endpointId: m.update.endpointId, err: ack.error });
      sendMessage(socket, { type: 'ack', endpointId: m.update.endpointId, ack });
    }, (err) => this.log.warn('agent message failed', { err: err.message }));
  }
}
