/**
 * The HTTP proxy's copy of the L7 policy table: per local endpoint (by address) its policy rows,
 * those redirecting to the HTTP proxy with their compiled HTTP rules. A request is judged by the
 * row the datapath would choose for its connection now, so a connection redirected under an older
 * policy follows the current one: its HTTP rules, a plain L3/L4 allow (every request passes) or a
 * deny. An update whose rules do not compile is refused as a whole, naming the field, and the
 * endpoint keeps its previous version.
 */
import type { Direction } from '../../policy/api/model.ts';
import { PROTOCOL_NUMBERS, type MapStateRow } from '../../policy/mapstate-types.ts';
import { verdict } from '../../policy/verdict.ts';
import type { L7PolicyAck, L7PolicyReceiver, L7PolicyUpdate } from '../l7-policy-table.ts';
import { compileHttpPolicy, type HttpPolicy } from './rules.ts';

/** What decides a connection's requests now. */
export type HttpPolicyRow =
  /** A row redirecting to the HTTP proxy: its HTTP rules decide. */
  | { readonly kind: 'http'; readonly row: MapStateRow; readonly policy: HttpPolicy }
  /** A plain L3/L4 allow: every request passes. */
  | { readonly kind: 'allow'; readonly row: MapStateRow }
  /** A deny, no row at all (default deny), or a redirect to another parser's proxy: every request is denied. */
  | { readonly kind: 'deny'; readonly row?: MapStateRow };

interface EndpointState {
  readonly endpointId: number;
  readonly version: number;
  readonly address: string;
  /** The compiled HTTP rules of each redirecting row. */
  readonly http: ReadonlyMap<MapStateRow, HttpPolicy>;
  /** Its rows of one direction and remote identity (what policy/verdict.ts reads). */
  rowsFor(direction: Direction, identity: number): MapStateRow[];
}

/** What a connection is judged by. */
export interface HttpFlowKey {
  readonly direction: Direction;
  /** The local endpoint's address. */
  readonly endpoint: string;
  readonly remoteIdentity: number;
  readonly port: number;
}

const groupKey = (direction: Direction, identity: number) => `${direction}/${identity}`;
const NO_ROWS: MapStateRow[] = [];

/** The endpoints' HTTP policies, as the proxy enforces them. */
export class HttpPolicyStore implements L7PolicyReceiver {
  readonly name = 'http';
  readonly #byAddress = new Map<string, EndpointState>();
  readonly #byId = new Map<number, EndpointState>();

  /** Applies an update; refuses (keeping the previous version) one whose rules do not compile. */
  apply(update: L7PolicyUpdate): L7PolicyAck {
    const prev = this.#byId.get(update.endpointId);
    if ('removed' in update) {
      if (prev) this.#forget(prev);
      return { version: update.version };
    }
    const groups = new Map<string, MapStateRow[]>();
    const http = new Map<MapStateRow, HttpPolicy>();
    for (const row of update.rows) {
      if (row.entry.redirect?.parser === 'http') {
        try {
          http.set(row, compileHttpPolicy(row.entry.redirect));
        } catch (err) {
          return { version: prev?.version ?? 0, error: `endpoint ${update.endpointId} version ${update.version}: ${(err as Error).message}` };
        }
      }
      const k = groupKey(row.key.direction, row.key.identity);
      const group = groups.get(k);
      if (group) group.push(row);
      else groups.set(k, [row]);
    }
    if (prev) this.#forget(prev);
    const state: EndpointState = {
      endpointId: update.endpointId, version: update.version, address: update.address, http,
      rowsFor: (direction, identity) => groups.get(groupKey(direction, identity)) ?? NO_ROWS,
    };
    this.#byId.set(state.endpointId, state);
    this.#byAddress.set(state.address, state);
    return { version: update.version };
  }

  #forget(s: EndpointState): void {
    this.#byId.delete(s.endpointId);
    if (this.#byAddress.get(s.address) === s) this.#byAddress.delete(s.address);
  }

  /**
   * What decides a flow's requests: the row the datapath chooses for it (policy/verdict.ts);
   * undefined when the proxy holds no policy for the endpoint at all (it is gone).
   */
  lookup(k: HttpFlowKey): HttpPolicyRow | undefined {
    const s = this.#byAddress.get(k.endpoint);
    if (!s) return undefined;
    const v = verdict(s, { direction: k.direction, remoteIdentity: k.remoteIdentity, protocol: PROTOCOL_NUMBERS.TCP, port: k.port });
    const row = v.match;
    if (v.verdict === 'allowed') return { kind: 'allow', row: row! };
    const policy = row && v.verdict === 'redirect' ? s.http.get(row) : undefined;
    return policy ? { kind: 'http', row: row!, policy } : { kind: 'deny', ...(row && { row }) };
  }
}
