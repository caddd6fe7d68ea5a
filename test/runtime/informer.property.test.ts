import { expect } from 'chai';
import fc from 'fast-check';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Informer } from '../../runtime/informer.ts';
import { FakeClock, flush } from './fake-clock.ts';
import { FakeSource, obj } from './fake-source.ts';

type Op = { kind: 'put'; name: string } | { kind: 'del'; name: string } | { kind: 'relist' } | { kind: 'drop'; name: string };

const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), name }),
  fc.record({ kind: fc.constant('del' as const), name }),
  fc.record({ kind: fc.constant('drop' as const), name }),
  fc.record({ kind: fc.constant('relist' as const) }),
);

describe('runtime/informer properties', () => {
  it('cache and a mirror built only from change events both track the server state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const source = new FakeSource();
        const informer = new Informer(source, { clock: new FakeClock() });
        const mirror = new Map<string, string>();
        informer.addHandler((e) => {
          const key = `${e.object.metadata?.namespace}/${e.object.metadata?.name}`;
          if (e.type === 'deleted') mirror.delete(key);
          else mirror.set(key, e.object.metadata?.resourceVersion ?? '');
        });
        const server = new Map<string, KubernetesObject>();
        let rv = 1;
        const stop = new AbortController();
        const running = informer.start(stop.signal);
        await informer.waitForSync();
        await flush();
        for (const op of ops) {
          rv++;
          if (op.kind === 'put') {
            const existed = server.has(op.name);
            const o = obj(op.name, String(rv));
            server.set(op.name, o);
            source.current.emit({ type: existed ? 'MODIFIED' : 'ADDED', object: o });
          } else if (op.kind === 'del' && server.has(op.name)) {
            server.delete(op.name);
            source.current.emit({ type: 'DELETED', object: obj(op.name, String(rv)) });
          } else if (op.kind === 'drop') {
            // A change the watch missed (e.g. during a disconnect); only a relist reveals it.
            if (server.has(op.name)) server.delete(op.name);
            else server.set(op.name, obj(op.name, String(rv)));
          } else if (op.kind === 'relist') {
            source.items = [...server.values()];
            source.rv = String(rv);
            source.current.emit({ type: 'ERROR', object: { kind: 'Status', code: 410 } });
            await flush();
            const want = [...server.values()].map((o) => `default/${o.metadata?.name}=${o.metadata?.resourceVersion}`).sort();
            const got = informer.list().map((o) => `default/${o.metadata?.name}=${o.metadata?.resourceVersion}`).sort();
            expect(got).to.deep.equal(want);
          }
        }
        const cache = informer.list().map((o) => `default/${o.metadata?.name}=${o.metadata?.resourceVersion}`).sort();
        expect([...mirror].map(([k, v]) => `${k}=${v}`).sort()).to.deep.equal(cache);
        stop.abort();
        await running;
      }),
      { numRuns: 150 },
    );
  });
});
