import { expect } from 'chai';
import { cachedReconciler } from '../../runtime/cached-reconciler.ts';
import type { CacheReader } from '../../runtime/informer.ts';
import { nopLogger } from '../../runtime/logger.ts';

describe('runtime/cached-reconciler', () => {
  const objects = new Map([['ns/a', { v: 1 }]]);
  const cache = { get: (k: string) => objects.get(k) } as CacheReader<{ v: number }>;
  const ctx = { signal: new AbortController().signal, log: nopLogger, reconcileId: 'id' };

  it('applies present objects and cleans up missing ones', async () => {
    const calls: string[] = [];
    const r = cachedReconciler(cache, {
      apply: async (_ctx, obj, req) => {
        calls.push(`apply:${req.name}:${obj.v}`);
        return { requeueAfterMs: 5 };
      },
      cleanup: async (_ctx, req) => {
        calls.push(`cleanup:${req.name}`);
      },
    });
    expect(await r.reconcile(ctx, { namespace: 'ns', name: 'a' })).to.deep.equal({ requeueAfterMs: 5 });
    expect(await r.reconcile(ctx, { namespace: 'ns', name: 'gone' })).to.deep.equal({});
    expect(calls).to.deep.equal(['apply:a:1', 'cleanup:gone']);
  });

  it('treats a missing object as success without a cleanup handler', async () => {
    const r = cachedReconciler(cache, { apply: async () => undefined });
    expect(await r.reconcile(ctx, { name: 'x' })).to.deep.equal({});
  });
});
