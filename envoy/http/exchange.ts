/**
 * One request through the HTTP proxy and, once it has one, its response: what the request's and the
 * response's L7 flow records are made of. The proxy fills it in as the exchange goes (the decision,
 * then the answer); nothing is formatted until a record is read, so a request costs the proxy one
 * small object on its way through.
 */
import type { Direction, RuleOrigin } from '../../policy/api/model.ts';
import type { HttpExchangeSink, HttpFlowEnd, HttpFlowRecord } from './proxy.ts';

/** The response part of an exchange. */
export interface HttpExchangeResponse {
  /** FORWARDED (the upstream answered), DROPPED (denied: the proxy's 403), ERROR (the upstream failed). */
  readonly verdict: HttpFlowRecord['verdict'];
  /** The status code the client got from upstream or the proxy (0: none). */
  readonly code: number;
  /** From the request's decision to its response. */
  readonly latencyNs: number;
  /** When the response was complete (ms since the epoch). */
  readonly timeMs: number;
}

/** The connection an exchange belongs to: direction and both ends, shared by its exchanges. */
export interface HttpExchangeConnection {
  readonly direction: Direction;
  /** The client and the original destination. */
  readonly source: HttpFlowEnd;
  readonly destination: HttpFlowEnd;
}

/** A request as decided, and its response once complete. */
export class HttpExchange {
  /** Set once the response is complete. */
  response: HttpExchangeResponse | undefined;
  /** The flow batching's state of it (envoy/proxy-protocol.ts: the parts sent, whether it waits in a batch). */
  wireState = 0;
  /** When the request was decided (ms since the epoch). */
  readonly timeMs = Date.now();
  readonly #startedMs = performance.now();

  constructor(
    readonly conn: HttpExchangeConnection,
    readonly method: string,
    readonly url: string,
    readonly protocol: string,
    /** The request's headers, as received (name, value, name, value, ...). */
    readonly headers: readonly string[],
    /** The request's verdict: FORWARDED or DROPPED (denied). */
    readonly verdict: HttpFlowRecord['verdict'],
    /** The rules of the row that decided. */
    readonly origins: readonly RuleOrigin[],
    /** The index of the allowing HTTP rule (-1: allow-all or denied). */
    readonly rule: number,
    /** Where the complete response is reported. */
    readonly sink?: HttpExchangeSink,
  ) {}

  /** Records the response, its verdict and code (0: none), and reports it. */
  finish(verdict: HttpFlowRecord['verdict'], code: number): void {
    this.response = { verdict, code, latencyNs: Math.round((performance.now() - this.#startedMs) * 1e6), timeMs: Date.now() };
    this.sink?.response(this);
  }
}
