/**
 * The desired L7 policy of each local endpoint, as the agent gives it to its proxies (upstream
 * gives Envoy its NetworkPolicy resources over xDS): for every endpoint that has had a row
 * redirecting to a proxy, its address and all its policy rows, the redirecting ones with their L7
 * rules. All rows, so that a proxy judges a connection the datapath redirected under an older policy
 * by the current one (a plain allow or a deny of its port) rather than by no policy at all. Each
 * change of an endpoint's rows is a new version, pushed to every proxy; each proxy answers with the
 * version it applied or why it refused it (then it keeps enforcing the previous one). `status()`
 * shows desired vs acknowledged.
 */
import type { MapStateRow } from '../policy/mapstate-types.ts';

/** One endpoint's L7 policy: the rows of its map state. */
export interface L7EndpointPolicy {
  readonly endpointId: number;
  readonly version: number;
  /** The endpoint's IPv4 address. */
  readonly address: string;
  readonly rows: readonly MapStateRow[];
}

/** An update for a proxy: a new policy for an endpoint, or its removal. */
export type L7PolicyUpdate = L7EndpointPolicy | { readonly endpointId: number; readonly version: number; readonly removed: true };

/** A proxy's answer to an update. */
export interface L7PolicyAck {
  readonly version: number;
  /** Why the update was refused (the previous version stays enforced). */
  readonly error?: string;
}

/** A proxy that takes updates: answered at once (in the agent's process) or later (a proxy process). */
export interface L7PolicyReceiver {
  readonly name: string;
  apply(update: L7PolicyUpdate): L7PolicyAck | Promise<L7PolicyAck>;
}

/** Where an endpoint's policy comes from. */
export interface L7PolicySource {
  /** The endpoint's current map state rows; undefined when it is gone. */
  rows(endpointId: number): readonly MapStateRow[] | undefined;
  /** The endpoint's address; undefined when it is gone. */
  address(endpointId: number): string | undefined;
}

/** Desired vs acknowledged version of one endpoint at one proxy. */
export interface L7PolicyStatus {
  readonly endpointId: number;
  readonly proxy: string;
  readonly desired: number;
  readonly acked: number;
  readonly error?: string;
}

interface Desired {
  version: number;
  signature: string;
  policy: L7PolicyUpdate;
}

/** The table of every local endpoint's desired L7 policy and what each proxy acknowledged. */
export class L7PolicyTable {
  readonly #desired = new Map<number, Desired>();
  readonly #receivers: L7PolicyReceiver[] = [];
  readonly #acks = new Map<string, L7PolicyAck>();
  #version = 0;

  constructor(private readonly source: L7PolicySource) {}

  /** Adds a proxy and pushes it every endpoint's current policy. */
  subscribe(receiver: L7PolicyReceiver): void {
    this.#receivers.push(receiver);
    this.resend(receiver);
  }

  /** Pushes a subscribed proxy every endpoint's current policy again (it reconnected, or restarted). */
  resend(receiver: L7PolicyReceiver): void {
    for (const [id, d] of this.#desired) this.#push(receiver, id, d.policy);
  }

  /** Recomputes an endpoint's policy from the source; pushes it when it changed. */
  update(endpointId: number): void {
    const rows = this.source.rows(endpointId);
    const address = this.source.address(endpointId);
    const prev = this.#desired.get(endpointId);
    if (rows === undefined || address === undefined) {
      if (!prev || 'removed' in prev.policy) return;
      this.#set(endpointId, '', { endpointId, version: ++this.#version, removed: true });
      this.#desired.delete(endpointId);
      return;
    }
    if (!prev && !rows.some((r) => r.entry.proxyPort !== 0)) return;
    // Plain rows (the map state's are views with getters), so they compare and travel as JSON.
    const plain = rows.map((r) => ({ key: { ...r.key }, entry: r.entry }));
    const signature = `${address}|${JSON.stringify(plain)}`;
    if (prev?.signature === signature) return;
    this.#set(endpointId, signature, { endpointId, version: ++this.#version, address, rows: plain });
  }

  #set(endpointId: number, signature: string, policy: L7PolicyUpdate): void {
    this.#desired.set(endpointId, { version: policy.version, signature, policy });
    for (const r of this.#receivers) this.#push(r, endpointId, policy);
  }

  #push(receiver: L7PolicyReceiver, endpointId: number, policy: L7PolicyUpdate): void {
    const key = `${receiver.name}/${endpointId}`;
    const failed = (err: unknown): L7PolicyAck => ({ version: this.#acks.get(key)?.version ?? 0, error: (err as Error).message });
    let ack: L7PolicyAck | Promise<L7PolicyAck>;
    try {
      ack = receiver.apply(policy);
    } catch (err) {
      ack = failed(err);
    }
    if (!(ack instanceof Promise)) return void this.#acks.set(key, ack);
    // A later answer counts only while this update is still the endpoint's newest.
    void ack.catch(failed).then((a) => {
      if (this.#desired.get(endpointId)?.version === policy.version) this.#acks.set(key, a);
    });
  }

  /** Desired and acknowledged versions per endpoint and proxy. */
  status(): L7PolicyStatus[] {
    const out: L7PolicyStatus[] = [];
    for (const [id, d] of this.#desired) {
      for (const r of this.#receivers) {
        const ack = this.#acks.get(`${r.name}/${id}`);
        out.push({ endpointId: id, proxy: r.name, desired: d.version, acked: ack?.version ?? 0, ...(ack?.error && { error: ack.error }) });
      }
    }
    return out;
  }
}
