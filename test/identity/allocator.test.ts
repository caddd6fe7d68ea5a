// CRD-mode allocation against an in-memory apiserver: same number on every node, no number for
// two label sets under concurrent allocators and conflicts, heartbeat GC protocol.
import { expect } from 'chai';
import { CrdIdentityAllocator } from '../../identity/allocator.ts';
import {
  HEARTBEAT_ANNOTATION, labelsOfCiliumIdentity, toCiliumIdentity,
} from '../../identity/ciliumidentity.ts';
import { IdentityGarbageCollector } from '../../identity/gc.ts';
import { LabelSet } from '../../identity/labels.ts';
import { MemoryIdentityBackend } from '../../identity/memory-identity-backend.ts';

const labels = (app: string) => LabelSet.parse([`k8s:app=${app}`, 'k8s:io.kubernetes.pod.namespace=default']);

/** Deterministic PRNG (mulberry32) for reproducible interleavings. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A backend whose calls yield to the event loop a random number of times. */
function jitteryBackend(seed: number): MemoryIdentityBackend {
  const rnd = prng(seed);
  const jitter = async () => {
    for (let i = Math.floor(rnd() * 4); i > 0; i--) await new Promise((r) => setImmediate(r));
  };
  return new MemoryIdentityBackend({ beforeCreate: jitter, beforeList: jitter });
}

describe('CiliumIdentity object', () => {
  it('has upstream shape: name = id, security-labels, k8s labels in metadata', () => {
    const obj = toCiliumIdentity(300, LabelSet.parse(['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=default', 'reserved:x', 'k8s:bad key=v']));
    expect(obj).to.deep.equal({
      apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity',
      metadata: { name: '300', labels: { app: 'web', 'io.kubernetes.pod.namespace': 'default' } },
      'security-labels': { 'k8s:app': 'web', 'k8s:bad key': 'v', 'k8s:io.kubernetes.pod.namespace': 'default', 'reserved:x': '' },
    });
    expect(labelsOfCiliumIdentity(obj).toStrings()).to.include('k8s:app=web');
  });
});

describe('CrdIdentityAllocator', () => {
  it('gives a label set the same number on every node', async () => {
    const backend = new MemoryIdentityBackend();
    const nodes = [1, 2, 3].map(() => new CrdIdentityAllocator(backend));
    const ids = await Promise.all(nodes.map((n) => n.allocate(labels('web'))));
    expect(new Set(ids.map((r) => r.id)).size).to.equal(1);
    expect(ids.filter((r) => r.isNew)).to.have.length(1);
    expect(ids[0]!.id).to.be.within(256, 65535);
    expect(await backend.list()).to.have.length(1);
  });

  it('returns reserved numbers for reserved label sets without storing anything', async () => {
    const backend = new MemoryIdentityBackend();
    expect(await new CrdIdentityAllocator(backend).allocate(LabelSet.parse(['reserved:host']))).to.deep.equal({ id: 1, isNew: false });
    expect(await backend.list()).to.have.length(0);
  });

  it('probes past a number taken by another label set', async () => {
    const backend = new MemoryIdentityBackend();
    const a = new CrdIdentityAllocator(backend, { range: { min: 256, max: 259 } });
    const first = a.firstCandidate(labels('web'));
    await backend.create(toCiliumIdentity(first, labels('squatter')));
    const r = await a.allocate(labels('web'));
    expect(r.id).to.not.equal(first);
    expect(labelsOfCiliumIdentity((await backend.get(String(r.id)))!).equals(labels('web'))).to.equal(true);
  });

  it('fails when the range is exhausted', async () => {
    const backend = new MemoryIdentityBackend();
    const a = new CrdIdentityAllocator(backend, { range: { min: 256, max: 257 } });
    await a.allocate(labels('a'));
    await a.allocate(labels('b'));
    let err: unknown;
    try {
      await a.allocate(labels('c'));
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/exhausted/);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`concurrent allocators never share a number between label sets (interleaving seed ${seed})`, async () => {
      const backend = jitteryBackend(seed);
      const nodes = [0, 1, 2, 3].map(() => new CrdIdentityAllocator(backend, { range: { min: 256, max: 300 } }));
      const apps = Array.from({ length: 20 }, (_, i) => `app${i}`);
      const rnd = prng(seed * 7919);
      const jobs = nodes.flatMap((n) => apps.filter(() => rnd() < 0.7).map(async (app) => ({ app, ...(await n.allocate(labels(app))) })));
      const results = await Promise.all(jobs);
      const byApp = new Map<string, Set<number>>();
      for (const r of results) byApp.set(r.app, (byApp.get(r.app) ?? new Set()).add(r.id));
      for (const [app, ids] of byApp) {
        expect([...ids], `nodes disagree on ${app}`).to.have.length(1);
        const obj = await backend.get(String([...ids][0]));
        expect(labelsOfCiliumIdentity(obj!).equals(labels(app))).to.equal(true);
      }
      const stored = await backend.list();
      const owners = new Map(stored.map((o) => [o.metadata.name, labelsOfCiliumIdentity(o).canonical]));
      expect(owners.size).to.equal(stored.length);
      expect(backend.calls.exists).to.be.greaterThan(0);
    });
  }

  it('removes the heartbeat annotation when an identity is reused', async () => {
    const backend = new MemoryIdentityBackend();
    const a = new CrdIdentityAllocator(backend);
    const { id } = await a.allocate(labels('web'));
    const obj = (await backend.get(String(id)))!;
    obj.metadata.annotations = { [HEARTBEAT_ANNOTATION]: '2026-01-01T00:00:00.000Z' };
    await backend.replace(obj);
    expect(await a.allocate(labels('web'))).to.deep.equal({ id, isNew: false });
    expect((await backend.get(String(id)))!.metadata.annotations ?? {}).to.not.have.property(HEARTBEAT_ANNOTATION);
  });
});

describe('identity GC heartbeat protocol', () => {
  async function setup() {
    const backend = new MemoryIdentityBackend();
    const a = new CrdIdentityAllocator(backend);
    const used = (await a.allocate(labels('used'))).id;
    const unused = (await a.allocate(labels('unused'))).id;
    let now = new Date('2026-01-01T00:00:00Z');
    const inUse = new Set([used]);
    const gc = new IdentityGarbageCollector(backend, { inUse: () => inUse, now: () => now, heartbeatTimeoutMs: 15 * 60_000 });
    return { backend, a, used, unused, gc, inUse, advance: (ms: number) => { now = new Date(now.getTime() + ms); } };
  }

  it('marks an unused identity first, deletes it after the timeout on a later run', async () => {
    const s = await setup();
    expect(await s.gc.run()).to.deep.equal({ marked: [s.unused], deleted: [], unmarked: [], conflicts: [] });
    expect((await s.backend.get(String(s.unused)))!.metadata.annotations).to.deep.equal({ [HEARTBEAT_ANNOTATION]: '2026-01-01T00:00:00.000Z' });
    s.advance(60_000);
    expect((await s.gc.run()).deleted).to.deep.equal([]);
    s.advance(15 * 60_000);
    expect((await s.gc.run()).deleted).to.deep.equal([s.unused]);
    expect(await s.backend.get(String(s.unused))).to.equal(undefined);
    expect(await s.backend.get(String(s.used))).to.not.equal(undefined);
  });

  it('keeps an identity an agent reused in between (annotation removed, delete precondition fails)', async () => {
    const s = await setup();
    await s.gc.run();
    const stale = (await s.backend.get(String(s.unused)))!;
    await s.a.allocate(labels('unused'));
    s.advance(30 * 60_000);
    expect(await s.backend.delete(String(s.unused), stale.metadata.resourceVersion)).to.equal('conflict');
    const r = await s.gc.run();
    expect(r.deleted).to.deep.equal([]);
    expect(r.marked).to.deep.equal([s.unused]);
  });

  it('unmarks an identity that is in use again', async () => {
    const s = await setup();
    await s.gc.run();
    s.inUse.add(s.unused);
    expect((await s.gc.run()).unmarked).to.deep.equal([s.unused]);
  });
});
