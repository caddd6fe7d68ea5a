// Unit tests of reconciler logic with in-memory caches and a recording API: identity GC, endpoint GC, patches, validation.
import { expect } from 'chai';
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { CiliumEndpoint, CiliumIdentity, CiliumNode } from '../../crds/types.generated.ts';
import { operatorMetrics } from '../../operator/metrics.ts';
import { retrying, type ObjectApi } from '../../reconcilers/api.ts';
import type { ReconcilerDeps } from '../../reconcilers/deps.ts';
import { collectEndpoints, endpointMatchesPod } from '../../reconcilers/endpoint-gc.ts';
import { collectIdentities, HEARTBEAT_ANNOTATION } from '../../reconcilers/identity-gc.ts';
import { specIpamPatch } from '../../reconcilers/ipam-status.ts';
import { neededPools } from '../../reconcilers/multi-pool-ipam.ts';
import { RateBudget } from '../../reconcilers/periodic.ts';
import { policyCondition, validatePolicy } from '../../reconcilers/policy-status.ts';
import { EventRecorder, nopLogger, realClock, type CacheReader } from '../../runtime/index.ts';

function cache<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[]): CacheReader<T> {
  const key = (o: T) => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? ''));
  return {
    get: (k) => items.find((o) => key(o) === k),
    list: () => [...items],
    keys: () => items.map(key),
    hasSynced: () => true,
    waitForSync: async () => true,
  };
}

function recordingApi(existingPods: string[] = []): ObjectApi & { calls: Array<[string, string, unknown]> } {
  const calls: Array<[string, string, unknown]> = [];
  return {
    calls,
    create: async () => true,
    jsonPatch: async (ref, req, ops) => calls.push(['patch', req.name, ops]),
    delete: async (ref, req, pre) => (calls.push(['delete', req.name, pre]), true),
    get: async <T>(ref: unknown, req: { namespace?: string; name: string }) =>
      (existingPods.includes(req.name) ? { metadata: { name: req.name, uid: 'u' } } : undefined) as T | undefined,
    list: async () => [],
  };
}

function deps(api: ObjectApi, now = Date.parse('2026-01-01T01:00:00Z')): ReconcilerDeps {
  const registry = new Registry();
  return {
    api,
    status: () => ({ jsonPatch: async () => undefined, mergePatch: async () => undefined }),
    events: new EventRecorder({ sink: { create: async (e) => e, patch: async () => undefined }, controller: 't', instance: 't' }),
    log: nopLogger,
    metrics: operatorMetrics(registry),
    registry,
    clock: { ...realClock, now: () => now },
  };
}

const identity = (name: string, mark?: string): CiliumIdentity => ({
  metadata: { name, resourceVersion: `rv${name}`, uid: `uid${name}`, ...(mark ? { annotations: { [HEARTBEAT_ANNOTATION]: mark } } : {}) },
  'security-labels': {},
});
const endpoint = (name: string, id: number, ownerUid?: string): CiliumEndpoint => ({
  metadata: {
    name,
    namespace: 'ns',
    uid: `cep-${name}`,
    ...(ownerUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid: ownerUid }] } : {}),
  },
  status: { identity: { id } },
});

describe('reconcilers/identity-gc', () => {
  const opts = { intervalMs: 1000, heartbeatTimeoutMs: 30 * 60_000, rate: { limit: 100, intervalMs: 60_000 } };

  it('marks unused, deletes expired with preconditions, unmarks reused, keeps fresh marks', async () => {
    const api = recordingApi();
    const d = deps(api);
    const ids = cache([
      identity('1000'),
      identity('1001', '2026-01-01T00:00:00Z'),
      identity('1002', '2026-01-01T00:50:00Z'),
      identity('1003', '2026-01-01T00:00:00Z'),
    ]);
    const t = await collectIdentities(d, ids, cache([endpoint('a', 1003)]), opts, new RateBudget(100, 60_000, d.clock), new AbortController().signal);
    expect(t).to.deep.equal({ alive: 1, marked: 2, deleted: 1 });
    const [mark, del, unmark] = [api.calls.find((c) => c[1] === '1000'), api.calls.find((c) => c[1] === '1001'), api.calls.find((c) => c[1] === '1003')];
    expect(mark![2]).to.deep.equal([
      { op: 'test', path: '/metadata/resourceVersion', value: 'rv1000' },
      { op: 'add', path: '/metadata/annotations', value: { [HEARTBEAT_ANNOTATION]: '2026-01-01T01:00:00.000Z' } },
    ]);
    expect(del).to.deep.equal(['delete', '1001', { uid: 'uid1001', resourceVersion: 'rv1001' }]);
    expect((unmark![2] as Array<{ op: string }>)[1]!.op).to.equal('remove');
    expect(api.calls.some((c) => c[1] === '1002')).to.equal(false);
  });

  it('deletes no faster than the rate limit allows', async () => {
    const api = recordingApi();
    const d = deps(api);
    const ids = cache(['1', '2', '3'].map((n) => identity(n, '2026-01-01T00:00:00Z')));
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const t = await collectIdentities({ ...d, clock: realClock }, ids, cache([]), { ...opts, heartbeatTimeoutMs: 0 }, new RateBudget(1, 3_600_000, realClock), stop.signal);
    expect(t.deleted).to.equal(1);
  });
});

describe('reconcilers/endpoint-gc', () => {
  it('deletes endpoints whose pod is gone from cache and server, with a UID precondition', async () => {
    const api = recordingApi(['lagging']);
    const pods = cache<V1Pod>([{ metadata: { name: 'live', namespace: 'ns', uid: 'u1' } }]);
    const ceps = cache([endpoint('live', 1), endpoint('lagging', 1), endpoint('gone', 1)]);
    const n = await collectEndpoints(deps(api), ceps, pods, new RateBudget(10, 1000, realClock), new AbortController().signal);
    expect(n).to.equal(1);
    expect(api.calls).to.deep.equal([['delete', 'gone', { uid: 'cep-gone' }]]);
  });

  it('treats a pod recreated with another UID as gone', () => {
    expect(endpointMatchesPod(endpoint('p', 1, 'old'), { metadata: { uid: 'new' } })).to.equal(false);
    expect(endpointMatchesPod(endpoint('p', 1, 'same'), { metadata: { uid: 'same' } })).to.equal(true);
  });
});

describe('reconcilers/ipam helpers', () => {
  const cn = (ipam?: CiliumNode['spec']['ipam']): CiliumNode => ({ metadata: { name: 'n', resourceVersion: '7' }, spec: { ...(ipam ? { ipam } : {}) } });

  it('builds guarded JSON patches creating missing parents', () => {
    const guard = { op: 'test', path: '/metadata/resourceVersion', value: '7' };
    expect(specIpamPatch(cn(), ['podCIDRs'], ['10.0.0.0/24'])).to.deep.equal([guard, { op: 'add', path: '/spec/ipam', value: { podCIDRs: ['10.0.0.0/24'] } }]);
    expect(specIpamPatch(cn({}), ['pools', 'allocated'], [])).to.deep.equal([guard, { op: 'add', path: '/spec/ipam/pools', value: { allocated: [] } }]);
    expect(specIpamPatch(cn({ pools: {} }), ['pools', 'allocated'], [])).to.deep.equal([guard, { op: 'add', path: '/spec/ipam/pools/allocated', value: [] }]);
  });

  it('counts the addresses a node needs per pool from its requests and its pods', () => {
    const pods = cache<V1Pod>([
      { metadata: { name: 'a', namespace: 'blue' }, spec: { nodeName: 'n', containers: [] } },
      { metadata: { name: 'b', namespace: 'x', annotations: { 'ipam.cilium.io/ip-pool': 'green' } }, spec: { nodeName: 'n', containers: [] } },
      { metadata: { name: 'c', namespace: 'x' }, spec: { nodeName: 'n', hostNetwork: true, containers: [] } },
      { metadata: { name: 'd', namespace: 'x' }, spec: { nodeName: 'other', containers: [] } },
    ]);
    const namespaces = cache<V1Namespace>([{ metadata: { name: 'blue', annotations: { 'ipam.cilium.io/ip-pool': 'blue' } } }]);
    const node = cn({ pools: { requested: [{ pool: 'default', needed: { 'ipv4-addrs': 16 } }] } });
    expect([...neededPools(node, pods, namespaces)]).to.deep.equal([['default', 16], ['blue', 1], ['green', 1]]);
  });
});

describe('reconcilers/policy status', () => {
  it('turns the policy validation into the Valid condition, with the field that failed', () => {
    const bad = policyCondition(validatePolicy({
      kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'n' },
      specs: [{ endpointSelector: {}, ingress: [{ fromEndpoints: [{}], fromCIDR: ['10.0.0.0/8'] }] }],
    }), 3);
    expect(bad).to.include({ type: 'Valid', status: 'False', reason: 'PolicyInvalid', observedGeneration: 3 });
    expect(bad.message).to.contain('specs[0].ingress[0]: combining fromEndpoints and fromCIDR');
    expect(policyCondition(validatePolicy({ kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'n' }, spec: { endpointSelector: {} } }), undefined).status).to.equal('True');
  });
});

describe('reconcilers/api retrying', () => {
  it('retries until success and gives up when stopped', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const got = await retrying(async () => (++calls < 3 ? Promise.reject(new Error('boom')) : 'ok'), new AbortController().signal, (e) => errors.push(e), 1);
    expect([got, calls, errors.length]).to.deep.equal(['ok', 3, 2]);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 20);
    expect(await retrying(() => Promise.reject(new Error('down')), stop.signal, () => undefined, 5)).to.equal(undefined);
  });
});
