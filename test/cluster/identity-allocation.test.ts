// Identity allocation in CRD mode against the real apiserver: concurrent allocators, each with its own
// client, never give one number to two label sets and agree on one number per label set; the
// CiliumIdentity objects have upstream's shape; unused identities are collected by the heartbeat GC.
import { expect } from 'chai';
import { CrdIdentityAllocator } from '../../identity/allocator.ts';
import { K8sIdentityBackend } from '../../identity/k8s-identity-backend.ts';
import { IdentityGarbageCollector } from '../../identity/gc.ts';
import { HEARTBEAT_ANNOTATION } from '../../identity/ciliumidentity.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { ensureCrds, kubectl, testKubeConfig } from '../support/cluster.ts';

describe('CRD identity allocation on a real apiserver', function () {
  this.timeout(120_000);
  const range = { min: 60000, max: 60007 };
  const newBackend = async () => new K8sIdentityBackend(kubeRequester(await testKubeConfig()));
  const labelSets = Array.from({ length: 6 }, (_, i) => sanitizePodLabels({ namespace: 'idtest', podLabels: { app: `app${i}` } }));

  before(async () => {
    await ensureCrds();
  });

  after(async () => {
    await kubectl(['delete', 'ciliumidentities', '-l', 'io.kubernetes.pod.namespace=idtest', '--wait=false']);
  });

  it('four concurrent allocators agree on one number per label set and never share one', async () => {
    const allocators = await Promise.all([0, 1, 2, 3].map(async () => new CrdIdentityAllocator(await newBackend(), { range })));
    const results = await Promise.all(allocators.flatMap((a, ai) =>
      labelSets.map((ls, li) => a.allocate(ls).then((r) => ({ ai, li, id: r.id })))));
    const byLabels = new Map<number, Set<number>>();
    for (const r of results) byLabels.set(r.li, (byLabels.get(r.li) ?? new Set()).add(r.id));
    for (const [li, ids] of byLabels) expect([...ids], `label set ${li}`).to.have.length(1);
    const numbers = [...byLabels.values()].map((s) => [...s][0]!);
    expect(new Set(numbers).size).to.equal(labelSets.length);
    for (const n of numbers) expect(n).to.be.within(range.min, range.max);
  });

  it('writes CiliumIdentity objects shaped as upstream', async () => {
    const id = (await new CrdIdentityAllocator(await newBackend(), { range }).allocate(labelSets[0]!)).id;
    const r = await kubectl(['get', 'ciliumidentity', String(id), '-o', 'json']);
    const obj = JSON.parse(r.stdout);
    expect(obj['security-labels']).to.include({ 'k8s:app': 'app0', 'k8s:io.kubernetes.pod.namespace': 'idtest' });
    expect(obj.metadata.labels).to.include({ app: 'app0', 'io.kubernetes.pod.namespace': 'idtest' });
    const listed = await kubectl(['get', 'ciliumid', '-l', 'app=app0']);
    expect(listed.stdout).to.contain(String(id)).and.to.contain('idtest');
  });

  it('marks unused identities with a heartbeat, then deletes them; an identity in use is kept', async () => {
    const backend = await newBackend();
    const keep = (await new CrdIdentityAllocator(backend, { range }).allocate(labelSets[1]!)).id;
    let now = new Date('2026-11-21T00:00:00Z');
    const gc = new IdentityGarbageCollector(backend, { inUse: () => new Set([keep]), now: () => now, heartbeatTimeoutMs: 60_000 });
    const first = await gc.run();
    expect(first.marked).to.not.include(keep);
    expect(first.marked.length).to.be.greaterThan(0);
    const marked = first.marked[0]!;
    const annotated = JSON.parse((await kubectl(['get', 'ciliumidentity', String(marked), '-o', 'json'])).stdout);
    expect(annotated.metadata.annotations).to.have.property(HEARTBEAT_ANNOTATION);
    now = new Date(now.getTime() + 120_000);
    const second = await gc.run();
    expect(second.deleted).to.include(marked);
    expect((await kubectl(['get', 'ciliumidentity', String(marked)])).code).to.not.equal(0);
    expect((await kubectl(['get', 'ciliumidentity', String(keep)])).code).to.equal(0);
  });
});
