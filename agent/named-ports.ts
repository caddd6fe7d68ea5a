/**
 * Egress named ports, resolved as upstream resolves them: from the container ports of the
 * destination endpoints. Every CiliumEndpoint in the cluster reports its identity and named ports
 * (`status.named-ports`); a rule allowing egress to port "http" of the peers a selector picks gets
 * the "http" ports of the endpoints whose identity that selector selects. A change of any
 * endpoint's ports or identity re-resolves the rules naming the ports concerned.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { LabelSet } from '../identity/labels.ts';
import type { PeerSelector } from '../policy/api/model.ts';
import type { NamedPort } from '../policy/ports.ts';
import { compileSelector, selectorKey } from '../policy/selector-match.ts';
import { derivedValueReconciler } from '../runtime/cached-reconciler.ts';
import type { CacheReader } from '../runtime/informer.ts';
import type { Reconciler } from '../runtime/reconcile.ts';

/** The fields of a CiliumEndpoint named ports are read from. */
export interface NamedPortsCep extends KubernetesObject {
  status?: { identity?: { id?: number }; 'named-ports'?: { name?: string; port?: number; protocol?: string }[] };
}

interface EndpointPorts {
  readonly identity: number;
  readonly ports: readonly NamedPort[];
}

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** The named ports of a CiliumEndpoint. */
export function namedPortsOfCep(cep: NamedPortsCep): NamedPort[] {
  return (cep.status?.['named-ports'] ?? []).flatMap((p) => (p.name && Number.isInteger(p.port) && PROTOCOLS.has(p.protocol ?? 'TCP')
    ? [{ name: p.name.toLowerCase(), port: p.port!, protocol: (p.protocol ?? 'TCP') as NamedPort['protocol'] }]
    : []));
}

/** Every endpoint's named ports, by endpoint key (and which endpoints hold each identity). */
export class NamedPortIndex {
  readonly #byEndpoint = new Map<string, EndpointPorts>();
  readonly #byIdentity = new Map<number, Set<string>>();
  readonly #matchers = new Map<string, (labels: LabelSet) => boolean>();

  /** Sets (or with undefined, drops) an endpoint's identity and ports; returns the port names whose answers may change. */
  set(key: string, value: EndpointPorts | undefined): Set<string> {
    const before = this.#byEndpoint.get(key);
    const after = value && value.ports.length > 0 ? value : undefined;
    if (before) {
      this.#byEndpoint.delete(key);
      const keys = this.#byIdentity.get(before.identity)!;
      keys.delete(key);
      if (keys.size === 0) this.#byIdentity.delete(before.identity);
    }
    if (after) {
      this.#byEndpoint.set(key, after);
      let keys = this.#byIdentity.get(after.identity);
      if (!keys) this.#byIdentity.set(after.identity, (keys = new Set()));
      keys.add(key);
    }
    if (before && after && before.identity === after.identity && JSON.stringify(before.ports) === JSON.stringify(after.ports)) return new Set();
    return new Set([...(before?.ports ?? []), ...(after?.ports ?? [])].map((p) => p.name));
  }

  /** The port names endpoints of `identity` carry (to re-resolve once the identity's labels are known). */
  namesOf(identity: number): Set<string> {
    const out = new Set<string>();
    for (const key of this.#byIdentity.get(identity) ?? []) for (const p of this.#byEndpoint.get(key)!.ports) out.add(p.name);
    return out;
  }

  /** The ports called `name` of endpoints `peer` selects (`labelsOf` gives an identity's labels). */
  resolve(name: string, peer: PeerSelector, labelsOf: (id: number) => LabelSet | undefined): NamedPort[] {
    const key = selectorKey(peer);
    let match = this.#matchers.get(key);
    if (!match) this.#matchers.set(key, (match = peer.kind === 'wildcard' ? () => true : compileSelector(peer)));
    const out = new Map<string, NamedPort>();
    for (const ep of this.#byEndpoint.values()) {
      const labels = labelsOf(ep.identity);
      if (!labels || !match(labels)) continue;
      for (const p of ep.ports) if (p.name === name) out.set(`${p.protocol}/${p.port}`, p);
    }
    return [...out.values()];
  }
}

/** CiliumEndpoints into the index; `changed` gets the port names to re-resolve. */
export function namedPortsReconciler(cache: CacheReader<NamedPortsCep>, index: NamedPortIndex, changed: (names: Set<string>) => void): Reconciler {
  return derivedValueReconciler(cache, (cep) => {
    const identity = cep.status?.identity?.id;
    return identity ? { identity, ports: namedPortsOfCep(cep) } : undefined;
  }, (key, value) => changed(index.set(key, value)));
}
