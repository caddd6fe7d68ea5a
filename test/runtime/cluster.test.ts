// Runtime pieces against a real kube-apiserver; skipped when test/support/cluster.ts has none.
// Runtime adapters that load client-node are imported lazily, after the skip decision.
import { expect } from 'chai';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { testKubeConfig } from '../support/cluster.ts';
import type { KubeRequester } from '../../runtime/kube-request.ts';
import type { ResourceRef } from '../../runtime/resource.ts';
import { Informer } from '../../runtime/informer.ts';
import { Controller } from '../../runtime/controller.ts';
import { LeaderElector } from '../../runtime/leader-election.ts';
import { EventRecorder } from '../../runtime/events.ts';
import { findCondition, setCondition, statusJsonPatch, type Condition } from '../../runtime/status.ts';
import { cachedReconciler } from '../../runtime/cached-reconciler.ts';
import { Manager } from '../../runtime/manager.ts';

const configMaps: ResourceRef = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const widgets: ResourceRef = { apiVersion: 'test.ciliate.io/v1', kind: 'Widget', plural: 'widgets', namespaced: true };

/** Polls `fn` until it returns a truthy value or 20 s pass. */
async function eventually<T>(fn: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('runtime against a kube-apiserver', function () {
  this.timeout(60_000);
  let kc: KubeConfig;
  let req: KubeRequester;
  let adapters: typeof import('../../runtime/kube.ts');
  const ns = `rt-${Math.random().toString(36).slice(2, 8)}`;
  const stop = new AbortController();

  before(async function () {
    const config = await testKubeConfig();
    if (!config) return this.skip();
    kc = config;
    adapters = await import('../../runtime/kube.ts');
    req = adapters.kubeRequester(kc);
    await req({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
  });

  after(async () => {
    stop.abort();
    if (req) await req({ method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
  });

  /** Creates the test Widget CRD (namespaced, with a status subresource) unless it exists. */
  async function ensureWidgetCrd(): Promise<void> {
    await req({
      method: 'POST',
      path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      body: {
        metadata: { name: 'widgets.test.ciliate.io' },
        spec: {
          group: 'test.ciliate.io',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      },
    }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
  }

  const cmPath = (name?: string) => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ''}`;

  it('informer lists, watches adds/updates/deletes and serves get/list', async () => {
    await req({ method: 'POST', path: cmPath(), body: { metadata: { name: 'pre' }, data: { a: '1' } } });
    const informer = new Informer<KubernetesObject & { data?: Record<string, string> }>(
      adapters.kubeListWatch(kc, configMaps, { namespace: ns }),
      { name: 'cm' },
    );
    const seen: string[] = [];
    informer.addHandler((e) => seen.push(`${e.type}:${e.object.metadata?.name}`));
    const running = informer.start(stop.signal);
    expect(await informer.waitForSync(stop.signal)).to.equal(true);
    expect(informer.get(`${ns}/pre`)?.data).to.deep.equal({ a: '1' });
    await req({ method: 'POST', path: cmPath(), body: { metadata: { name: 'new' }, data: { b: '2' } } });
    await req({ method: 'PATCH', path: cmPath('pre'), body: { data: { a: '3' } }, contentType: 'application/merge-patch+json' });
    await req({ method: 'DELETE', path: cmPath('new') });
    await eventually(() => seen.includes('deleted:new'), 'delete event');
    expect(seen).to.include.members(['added:pre', 'added:new', 'updated:pre', 'deleted:new']);
    expect(informer.get(`${ns}/pre`)?.data).to.deep.equal({ a: '3' });
    expect(informer.list().map((o) => o.metadata?.name)).to.include('pre');
    void running;
  });

  it('controller reconciles a ConfigMap created after start', async () => {
    const informer = new Informer(adapters.kubeListWatch(kc, configMaps, { namespace: ns }), { name: 'cm2' });
    const reconciled = new Set<string>();
    const ctrl = new Controller({
      name: 'cluster-test',
      reconciler: { reconcile: async (_ctx, r) => (reconciled.add(`${r.namespace}/${r.name}`), {}) },
    }).for(informer);
    void informer.start(stop.signal);
    void ctrl.start(stop.signal);
    await req({ method: 'POST', path: cmPath(), body: { metadata: { name: 'ctrl' } } });
    await eventually(() => reconciled.has(`${ns}/ctrl`), 'reconcile');
  });

  it('leader election acquires, releases on stop and hands over', async () => {
    const client = adapters.leaseClient(kc);
    const timing = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
    const log: string[] = [];
    const mk = (identity: string, signal: AbortSignal) =>
      new LeaderElector(
        { namespace: ns, name: 'rt-lease', identity, client, ...timing },
        { onStartedLeading: () => log.push(`start:${identity}`), onStoppedLeading: () => log.push(`stop:${identity}`) },
      ).run(signal);
    const a = new AbortController();
    const b = new AbortController();
    const aDone = mk('a', a.signal);
    await eventually(() => log.includes('start:a'), 'a leading');
    const bDone = mk('b', b.signal);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(log).to.not.include('start:b');
    a.abort();
    await aDone;
    await eventually(() => log.includes('start:b'), 'b leading');
    const lease = (await client.get(ns, 'rt-lease'))!;
    expect(lease.spec?.holderIdentity).to.equal('b');
    expect(lease.spec?.leaseTransitions).to.be.at.least(1);
    b.abort();
    await bDone;
    expect((await client.get(ns, 'rt-lease'))?.spec?.holderIdentity).to.equal('');
  });

  it('writes /status with JSON patch and merge patch on a CRD with a status subresource', async () => {
    await ensureWidgetCrd();
    const base = `/apis/test.ciliate.io/v1/namespaces/${ns}/widgets`;
    const created = (await eventually(
      () => req({ method: 'POST', path: base, body: { apiVersion: 'test.ciliate.io/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { x: 1 } } }).catch(() => undefined),
      'CRD established',
    )) as { metadata: { resourceVersion: string; generation: number }; status?: unknown };
    const writer = adapters.statusWriter(kc, widgets);
    const conditions = setCondition([], { type: 'Ready', status: 'True', reason: 'Done', message: 'ok', observedGeneration: created.metadata.generation }).conditions;
    await writer.jsonPatch({ namespace: ns, name: 'w' }, statusJsonPatch(created, { status: { conditions } }, { guardResourceVersion: true }));
    let got = (await req({ method: 'GET', path: `${base}/w` })) as { status: { conditions: Condition[]; phase?: string }; spec: unknown };
    expect(got.status.conditions[0]).to.include({ type: 'Ready', status: 'True' });
    // A stale resourceVersion guard makes the patch fail.
    let conflict: unknown;
    await writer.jsonPatch({ namespace: ns, name: 'w' }, statusJsonPatch(created, { status: { phase: 'x' } }, { guardResourceVersion: true })).catch((e: unknown) => (conflict = e));
    expect((conflict as { code?: number }).code).to.be.oneOf([409, 422]);
    await writer.mergePatch({ namespace: ns, name: 'w' }, { status: { phase: 'Running' } });
    got = (await req({ method: 'GET', path: `${base}/w` })) as typeof got;
    expect(got.status.phase).to.equal('Running');
    expect(got.spec).to.deep.equal({ x: 1 });
  });

  it('manager runs a leader-elected controller that sets a Ready condition on widgets', async () => {
    await ensureWidgetCrd();
    const base = `/apis/test.ciliate.io/v1/namespaces/${ns}/widgets`;
    await eventually(
      () => req({ method: 'POST', path: base, body: { apiVersion: 'test.ciliate.io/v1', kind: 'Widget', metadata: { name: 'm1' }, spec: { size: 2 } } }).catch(() => undefined),
      'widget created',
    );
    type Widget = KubernetesObject & { spec?: { size?: number }; status?: { conditions?: Condition[] } };
    const informer = adapters.kubeInformer<Widget>(kc, widgets, { namespace: ns });
    const writer = adapters.statusWriter(kc, widgets);
    const ctrl = new Controller({
      name: 'widget',
      reconciler: cachedReconciler(informer, {
        async apply(_ctx, w, r) {
          const next = setCondition(w.status?.conditions, {
            type: 'Ready',
            status: 'True',
            reason: 'Sized',
            message: `size ${w.spec?.size}`,
            observedGeneration: w.metadata?.generation,
          });
          if (next.changed) await writer.jsonPatch(r, statusJsonPatch(w, { status: { ...w.status, conditions: next.conditions } }));
        },
      }),
    }).for(informer);
    const manager = new Manager({
      leaderElection: (cb) =>
        new LeaderElector(
          { namespace: ns, name: 'widget-manager', identity: 'm', client: adapters.leaseClient(kc), leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
          cb,
        ),
    })
      .addCache(informer)
      .add(ctrl);
    const mstop = new AbortController();
    const running = manager.start(mstop.signal);
    const ready = await eventually(async () => {
      const w = (await req({ method: 'GET', path: `${base}/m1` })) as Widget;
      return findCondition(w.status?.conditions, 'Ready');
    }, 'Ready condition');
    expect(ready).to.include({ status: 'True', reason: 'Sized', message: 'size 2', observedGeneration: 1 });
    // A spec change is picked up through the watch.
    await req({ method: 'PATCH', path: `${base}/m1`, body: { spec: { size: 3 } }, contentType: 'application/merge-patch+json' });
    await eventually(async () => {
      const w = (await req({ method: 'GET', path: `${base}/m1` })) as Widget;
      return findCondition(w.status?.conditions, 'Ready')?.message === 'size 3';
    }, 'updated condition');
    mstop.abort();
    await running;
  });

  it('records events and aggregates repeats into a series', async () => {
    const cm = (await req({ method: 'POST', path: cmPath(), body: { metadata: { name: 'ev' } } })) as KubernetesObject;
    const rec = new EventRecorder({ sink: adapters.eventsV1Sink(kc), controller: 'ciliate.io/test', instance: 'test-1', flushIntervalMs: 100 });
    const target = { ...cm, apiVersion: 'v1', kind: 'ConfigMap' };
    for (let i = 0; i < 3; i++) rec.event(target, 'Normal', 'Tested', 'Test', 'hello');
    await rec.flush();
    const list = (await req({ method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${ns}/events` })) as {
      items: Array<{ reason: string; series?: { count: number }; regarding: { name: string } }>;
    };
    const ev = list.items.filter((e) => e.reason === 'Tested');
    expect(ev).to.have.length(1);
    expect(ev[0]!.regarding.name).to.equal('ev');
    expect(ev[0]!.series?.count).to.equal(3);
  });
});
