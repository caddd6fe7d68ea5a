/**
 * The addresses each identity's endpoints hold across the cluster, from every CiliumEndpoint, for
 * NetworkPolicy `ipBlock`s that select pods by address (`policy-cidr-match-mode` pods). A change
 * of an endpoint's identity or addresses hands the engine the affected identities' full lists.
 */
import { derivedValueReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';
import { cepAddresses, type CiliumEndpointLike } from './ipcache-controllers.ts';

interface EndpointAddresses {
  readonly identity: number;
  readonly ips: readonly string[];
}

/** Every endpoint's identity and addresses, by endpoint key and by identity. */
export class IdentityAddressIndex {
  readonly #byEndpoint = new Map<string, EndpointAddresses>();
  readonly #byIdentity = new Map<number, Map<string, readonly string[]>>();

  /** Sets (or with undefined, drops) an endpoint; returns each identity whose addresses changed, with all of them now. */
  set(key: string, value: EndpointAddresses | undefined): [number, string[]][] {
    const before = this.#byEndpoint.get(key);
    const after = value && value.ips.length > 0 ? value : undefined;
    if (before && after && before.identity === after.identity && before.ips.join() === after.ips.join()) return [];
    if (before) {
      const endpoints = this.#byIdentity.get(before.identity)!;
      endpoints.delete(key);
      if (endpoints.size === 0) this.#byIdentity.delete(before.identity);
      this.#byEndpoint.delete(key);
    }
    if (after) {
      this.#byEndpoint.set(key, after);
      let endpoints = this.#byIdentity.get(after.identity);
      if (!endpoints) this.#byIdentity.set(after.identity, (endpoints = new Map()));
      endpoints.set(key, after.ips);
    }
    const identities = new Set([before?.identity, after?.identity].filter((id) => id !== undefined));
    return [...identities].map((id) => [id, this.addressesOf(id)]);
  }

  /** The addresses of the endpoints holding `identity`, sorted. */
  addressesOf(identity: number): string[] {
    return [...new Set([...(this.#byIdentity.get(identity)?.values() ?? [])].flat())].sort();
  }
}

/** CiliumEndpoints into the index; `changed` gets the identities whose addresses changed. */
export function identityAddressesReconciler(
  cache: CacheReader<CiliumEndpointLike>, index: IdentityAddressIndex, changed: (changes: [number, string[]][]) => void,
): Reconciler {
  return derivedValueReconciler(cache, (cep) => {
    const identity = cep.status?.identity?.id;
    return identity ? { identity, ips: cepAddresses(cep) } : undefined;
  }, (key, value) => {
    const changes = index.set(key, value);
    if (changes.length > 0) changed(changes);
  });
}
