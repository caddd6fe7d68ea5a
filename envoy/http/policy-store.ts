/**
 * The HTTP proxy's copy of the L7 policy table: per local endpoint (by address) its redirect rows
 * with compiled HTTP rules. An update whose rules do not compile is refused as a whole, naming the
 * field, and the endpoint keeps its previous version.
 */
import type { Direction } from '../../policy/api/model.ts';
import { keyPortRange, keyPrefixLength, type MapStateRow } from '../../policy/mapstate-types.ts';
import type { L7PolicyAck, L7PolicyReceiver, L7PolicyUpdate } from '../l7-policy-table.ts';
import { compileHttpPolicy, type HttpPolicy } from './rules.ts';

/** A redirect row with its compiled rules. */
export interface HttpPolicyRow {
  readonly row: MapStateRow;
  readonly policy: HttpPolicy;
}

interface EndpointState {
  readonly endpointId: number;
  readonly version: number;
  readonly address: string;
  readonly rows: readonly HttpPolicyRow[];
}

/** What a connection is judged by. */
export interface HttpFlowKey {
  readonly direction: Direction;
  /** The local endpoint's address. */
  readonly endpoint: string;
  readonly remoteIdentity: number;
  readonly port: number;
}

function matches(r: MapStateRow, k: HttpFlowKey, identity: number): boolean {
  if (r.key.direction !== k.direction || r.key.identity !== identity) return false;
  if (r.key.protocol === 0) return true;
  if (r.key.protocol !== 6) return false;
  const { from, to } = keyPortRange(r.key);
  return k.port >= from && k.port <= to;
}

function longest(rows: readonly HttpPolicyRow[], k: HttpFlowKey, identity: number): HttpPolicyRow | undefined {
  let best: HttpPolicyRow | undefined;
  for (const r of rows) if (matches(r.row, k, identity) && (!best || keyPrefixLength(r.row.key) > keyPrefixLength(best.row.key))) best = r;
  return best;
}

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
    const rows: HttpPolicyRow[] = [];
    for (const row of update.rows) {
      if (row.entry.redirect?.parser !== 'http') continue;
      try {
        rows.push({ row, policy: compileHttpPolicy(row.entry.redirect) });
      } catch (err) {
        return { version: prev?.version ?? 0, error: `endpoint ${update.endpointId} version ${update.version}: ${(err as Error).message}` };
      }
    }
    if (prev) this.#forget(prev);
    const state = { endpointId: update.endpointId, version: update.version, address: update.address, rows };
    this.#byId.set(state.endpointId, state);
    this.#byAddress.set(state.address, state);
    return { version: update.version };
  }

  #forget(s: EndpointState): void {
    this.#byId.delete(s.endpointId);
    if (this.#byAddress.get(s.address) === s) this.#byAddress.delete(s.address);
  }

  /**
   * The row deciding a flow, chosen as the datapath chooses (the identity's longest match, then the
   * wildcard's; the longer prefix wins, the identity-specific row on a tie); undefined: no HTTP
   * rules apply now (the endpoint or its redirect is gone), so requests are denied.
   */
  lookup(k: HttpFlowKey): HttpPolicyRow | undefined {
    const s = this.#byAddress.get(k.endpoint);
    if (!s) return undefined;
    const specific = k.remoteIdentity !== 0 ? longest(s.rows, k, k.remoteIdentity) : undefined;
    const wildcard = longest(s.rows, k, 0);
    if (!specific || !wildcard) return specific ?? wildcard;
    return keyPrefixLength(wildcard.row.key) > keyPrefixLength(specific.row.key) ? wildcard : specific;
  }
}
