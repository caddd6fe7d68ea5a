// Property: for random CIDR policies (toCIDR, toCIDRSet with except, toEntities world, allow and deny,
// with and without a port), applied and then partly deleted through the agent's policy feed, the real
// endpoint program's verdict for every probe address equals a naive evaluation on addresses alone.
// The identities are the ones the feed allocates (with the reserved ones the agent registers); the
// ipcache is the one it writes: nothing is injected.
import { expect } from 'chai';
import fc from 'fast-check';
import { parsePrefix, prefixContains } from '../../identity/cidr.ts';
import { requireBpf } from '../datapath/support/env.ts';
import { FeedHarness, WORLD, type KernelVerdict } from './support/feed-harness.ts';

const PREFIXES = ['0.0.0.0/0', '198.51.100.0/24', '198.51.100.0/25', '198.51.100.128/25', '198.51.100.64/26', '198.51.100.0/28', '198.51.100.7/32', '192.0.2.0/24', '192.0.2.128/25'];
const OUTSIDE = ['198.51.100.7', '198.51.100.9', '198.51.100.70', '198.51.100.130', '192.0.2.1', '192.0.2.200', '203.0.113.5'];
const INSIDE = [WORLD.server.ip, WORLD.remoteNode, WORLD.apiserver];
const PORTS = [80, 443];

interface Peer { kind: 'cidr'; cidr: string; except: string[] }
interface WorldPeer { kind: 'world' }
interface Element { deny: boolean; peer: Peer | WorldPeer; port?: number }

const contains = (outer: string, ip: string) => prefixContains(parsePrefix(outer)!, parsePrefix(ip)!);

const peerArb: fc.Arbitrary<Peer | WorldPeer> = fc.oneof(
  fc.constant<WorldPeer>({ kind: 'world' }),
  fc.constantFrom(...PREFIXES).chain((cidr) => {
    const inner = PREFIXES.filter((p) => contains(cidr, p.split('/')[0]!) && Number(p.split('/')[1]) > Number(cidr.split('/')[1]));
    return fc.subarray(inner, { maxLength: Math.min(2, inner.length) }).map((except): Peer => ({ kind: 'cidr', cidr, except }));
  }),
);
const elementArb: fc.Arbitrary<Element> = fc.record({ deny: fc.boolean(), peer: peerArb, port: fc.option(fc.constantFrom(...PORTS), { nil: undefined }) });
/** A policy: at least one allow element, so egress is enforced whatever the deny elements are. */
const policyArb = fc.tuple(elementArb.map((e) => ({ ...e, deny: false })), fc.array(elementArb, { maxLength: 3 })).map(([a, rest]) => [a, ...rest]);

function toSpec(elements: Element[]): object {
  const item = (e: Element) => ({
    ...(e.peer.kind === 'world' ? { toEntities: ['world'] } : { toCIDRSet: [{ cidr: e.peer.cidr, ...(e.peer.except.length ? { except: e.peer.except } : {}) }] }),
    ...(e.port ? { toPorts: [{ ports: [{ port: String(e.port), protocol: 'TCP' }] }] } : {}),
  });
  return { egress: elements.filter((e) => !e.deny).map(item), egressDeny: elements.filter((e) => e.deny).map(item) };
}

function matches(e: Element, ip: string, port: number): boolean {
  if (e.port !== undefined && e.port !== port) return false;
  if (!OUTSIDE.includes(ip)) return false;
  return e.peer.kind === 'world' || (contains(e.peer.cidr, ip) && !e.peer.except.some((x) => contains(x, ip)));
}

function oracle(policies: Element[][], ip: string, port: number): KernelVerdict {
  const all = policies.flat();
  if (all.some((e) => e.deny && matches(e, ip, port))) return 'deny-rule';
  return all.some((e) => !e.deny && matches(e, ip, port)) ? 'allowed' : 'denied';
}

describe('agent: kernel verdicts for CIDR peers equal a naive evaluation on addresses (property)', function () {
  this.timeout(300_000);
  before(function () {
    requireBpf(this);
  });

  it('holds after applying random policies and after deleting some of them', () => {
    fc.assert(fc.property(fc.array(policyArb, { minLength: 1, maxLength: 3 }), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), (policies, keep) => {
      const h = new FeedHarness();
      try {
        const check = (live: Element[][]) => {
          for (const ip of [...OUTSIDE, ...INSIDE]) {
            for (const port of PORTS) expect(h.probe('egress', ip, port), `${ip}:${port} with ${JSON.stringify(live)}`).to.equal(oracle(live, ip, port));
          }
        };
        policies.forEach((p, i) => h.apply({
          apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: `p${i}`, namespace: 'default', uid: `u${i}` },
          spec: { endpointSelector: { matchLabels: { app: WORLD.self.app } }, ...toSpec(p) },
        }));
        check(policies);
        policies.forEach((_, i) => {
          if (!keep[i]) h.feed.deletePolicy('CiliumNetworkPolicy', 'default', `p${i}`);
        });
        const live = policies.filter((_, i) => keep[i]);
        if (live.length > 0) check(live);
        else expect([...h.ipcacheRows().keys()].filter((p) => PREFIXES.includes(p) && p !== '0.0.0.0/0'), 'every CIDR identity released').to.deep.equal([]);
      } finally {
        h.close();
      }
    }), { numRuns: 60 });
  });
});
