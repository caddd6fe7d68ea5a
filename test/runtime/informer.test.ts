import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { keysForChange, mapMatching, mapOwner } from '../../runtime/handlers.ts';
import { Informer, type ChangeEvent } from '../../runtime/informer.ts';
import { FakeClock, flush } from './fake-clock.ts';
import { FakeSource, obj } from './fake-source.ts';

describe('runtime/informer', () => {
  let clock: FakeClock;
  let source: FakeSource;
  let informer: Informer<KubernetesObject>;
  let events: string[];
  let stop: AbortController;
  let running: Promise<void>;

  beforeEach(() => {
    clock = new FakeClock();
    source = new FakeSource();
    informer = new Informer(source, { clock });
    events = [];
    informer.addHandler((e: ChangeEvent<KubernetesObject>) => events.push(`${e.type}:${e.object.metadata?.name}`));
    stop = new AbortController();
  });
  afterEach(async () => {
    stop.abort();
    await running;
  });

  it('lists, syncs, then applies watch events from the list resourceVersion', async () => {
    source.items = [obj('a', '5')];
    source.rv = '7';
    running = informer.start(stop.signal);
    expect(await informer.waitForSync()).to.equal(true);
    expect(informer.get('default/a')?.metadata?.resourceVersion).to.equal('5');
    await flush();
    expect(source.current.resourceVersion).to.equal('7');
    source.current.emit({ type: 'ADDED', object: obj('b', '8') });
    source.current.emit({ type: 'MODIFIED', object: obj('a', '9') });
    source.current.emit({ type: 'MODIFIED', object: obj('a', '9') });
    source.current.emit({ type: 'DELETED', object: obj('b', '10') });
    expect(events).to.deep.equal(['added:a', 'added:b', 'updated:a', 'deleted:b']);
    expect(informer.keys()).to.deep.equal(['default/a']);
  });

  it('relists on a 410 ERROR event and swaps the cache atomically', async () => {
    source.items = [obj('a', '1'), obj('b', '1')];
    running = informer.start(stop.signal);
    await informer.waitForSync();
    await flush();
    source.items = [obj('b', '2'), obj('c', '3')];
    source.rv = '20';
    const seen: string[][] = [];
    informer.addHandler(() => seen.push(informer.keys().sort()));
    source.current.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    await flush();
    expect(source.listCalls).to.equal(2);
    expect(informer.keys().sort()).to.deep.equal(['default/b', 'default/c']);
    // Every handler call saw the complete new cache, never a mix.
    for (const keys of seen.slice(2)) expect(keys).to.deep.equal(['default/b', 'default/c']);
    expect(events.slice(2)).to.deep.equal(['updated:b', 'added:c', 'deleted:a']);
    expect(source.current.resourceVersion).to.equal('20');
  });

  it('relists when the watch itself fails with HTTP 410', async () => {
    running = informer.start(stop.signal);
    await informer.waitForSync();
    await flush();
    source.current.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await flush();
    expect(source.listCalls).to.equal(2);
  });

  it('restarts the watch from the last resourceVersion after other errors, with backoff', async () => {
    source.items = [obj('a', '1')];
    running = informer.start(stop.signal);
    await informer.waitForSync();
    await flush();
    source.current.emit({ type: 'MODIFIED', object: obj('a', '4') });
    source.current.end(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    await flush();
    expect(source.watches).to.have.length(1);
    await clock.advance(500);
    expect(source.watches).to.have.length(2);
    expect(source.current.resourceVersion).to.equal('4');
    source.current.end(new Error('again'));
    await clock.advance(999);
    expect(source.watches).to.have.length(2);
    await clock.advance(1);
    expect(source.watches).to.have.length(3);
    expect(source.listCalls).to.equal(1);
  });

  it('re-watches at once after a normal close that made progress', async () => {
    running = informer.start(stop.signal);
    await informer.waitForSync();
    await flush();
    source.current.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '42' } } });
    source.current.end(null);
    await flush();
    expect(source.watches).to.have.length(2);
    expect(source.current.resourceVersion).to.equal('42');
    expect(events).to.deep.equal([]);
  });

  it('re-watches at once after a quiet watch that stayed open, but backs off instant closes', async () => {
    running = informer.start(stop.signal);
    await informer.waitForSync();
    await flush();
    await clock.advance(60_000);
    source.current.end(null);
    await flush();
    expect(source.watches).to.have.length(2);
    source.current.end(null);
    await flush();
    expect(source.watches).to.have.length(2);
    await clock.advance(500);
    expect(source.watches).to.have.length(3);
  });

  it('retries a failing list with backoff and only then reports synced', async () => {
    source.failLists = 2;
    running = informer.start(stop.signal);
    await flush();
    expect(informer.hasSynced()).to.equal(false);
    await clock.advance(500);
    await clock.advance(1000);
    expect(source.listCalls).to.equal(3);
    expect(informer.hasSynced()).to.equal(true);
  });

  it('stops the watch on abort and waitForSync yields false if never synced', async () => {
    source.failLists = 100;
    running = informer.start(stop.signal);
    const waiting = informer.waitForSync(stop.signal);
    stop.abort();
    expect(await waiting).to.equal(false);
    await running;
  });

  it('replays cached objects to late handlers', async () => {
    source.items = [obj('a', '1')];
    running = informer.start(stop.signal);
    await informer.waitForSync();
    const late: string[] = [];
    informer.addHandler((e) => late.push(`${e.type}:${e.object.metadata?.name}`));
    expect(late).to.deep.equal(['added:a']);
  });
});

describe('runtime/handlers', () => {
  it('maps a change to the matching objects of another cache', async () => {
    const source = new FakeSource();
    source.items = [obj('p1', '1', 'a'), obj('p2', '1', 'b'), obj('p3', '1', 'a')];
    const policies = new Informer(source);
    const stop = new AbortController();
    const running = policies.start(stop.signal);
    await policies.waitForSync();
    const byNamespace = mapMatching(policies, (p, ns: KubernetesObject) => p.metadata?.namespace === ns.metadata?.name);
    expect([...byNamespace({ metadata: { name: 'a' } })]).to.deep.equal(['a/p1', 'a/p3']);
    expect(policies.list('b').map((o) => o.metadata?.name)).to.deep.equal(['p2']);
    stop.abort();
    await running;
  });

  it('maps to the controlling owner, old and new', () => {
    const owned = (owner: string) =>
      obj('pod', '1', 'ns', {
        metadata: {
          name: 'pod',
          namespace: 'ns',
          ownerReferences: [
            { apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint', name: owner, uid: 'u', controller: true },
            { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'v' },
          ],
        },
      });
    const mapper = mapOwner('CiliumEndpoint', { group: 'cilium.io' });
    const keys = keysForChange({ type: 'updated', object: owned('new'), old: owned('old') }, mapper);
    expect([...keys]).to.deep.equal(['ns/new', 'ns/old']);
    expect([...mapOwner('Node', { controllerOnly: false, clusterScopedOwner: true })(owned('x'))]).to.deep.equal(['n1']);
    expect([...mapOwner('CiliumEndpoint', { group: 'other.io' })(owned('x'))]).to.deep.equal([]);
  });
});
