import { expect } from 'chai';
import fastJsonPatch from 'fast-json-patch';
import type { EventsV1Event } from '@kubernetes/client-node';
import { EventRecorder, type EventSink } from '../../runtime/events.ts';
import { setCondition, statusJsonPatch, findCondition, removeCondition, type Condition } from '../../runtime/status.ts';
import { FakeClock, flush } from './fake-clock.ts';

describe('runtime/status conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00.123Z');
  const t1 = new Date('2026-01-01T01:00:00Z');
  const ready = { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting', observedGeneration: 1 } as const;

  it('adds a condition with a second-precision transition time', () => {
    const { conditions, changed } = setCondition(undefined, ready, t0);
    expect(changed).to.equal(true);
    expect(conditions).to.deep.equal([{ ...ready, lastTransitionTime: '2026-01-01T00:00:00Z' }]);
  });

  it('keeps lastTransitionTime unless the status changes', () => {
    let { conditions } = setCondition(undefined, ready, t0);
    let changed: boolean;
    ({ conditions, changed } = setCondition(conditions, { ...ready, message: 'still waiting', observedGeneration: 2 }, t1));
    expect(changed).to.equal(true);
    expect(findCondition(conditions, 'Ready')?.lastTransitionTime).to.equal('2026-01-01T00:00:00Z');
    ({ conditions, changed } = setCondition(conditions, { ...ready, message: 'still waiting', observedGeneration: 2 }, t1));
    expect(changed).to.equal(false);
    ({ conditions, changed } = setCondition(conditions, { ...ready, status: 'True', reason: 'Done', message: '' }, t1));
    expect(changed).to.equal(true);
    expect(findCondition(conditions, 'Ready')?.lastTransitionTime).to.equal('2026-01-01T01:00:00Z');
    expect(removeCondition(conditions, 'Ready')).to.deep.equal({ conditions: [], changed: true });
  });

  it('builds a /status JSON patch that reproduces the new status, optionally guarded', () => {
    const before = { metadata: { resourceVersion: '7' }, status: { phase: 'A', conditions: [] as Condition[] } };
    const after = { status: { phase: 'B', conditions: setCondition([], ready, t0).conditions } };
    const ops = statusJsonPatch(before, after, { guardResourceVersion: true });
    expect(ops[0]).to.deep.equal({ op: 'test', path: '/metadata/resourceVersion', value: '7' });
    const patched = fastJsonPatch.applyPatch(structuredClone(before), ops).newDocument;
    expect(patched.status).to.deep.equal(after.status);
    expect(statusJsonPatch(before, before)).to.deep.equal([]);
    expect(statusJsonPatch({}, after)).to.deep.equal([{ op: 'add', path: '/status', value: after.status }]);
  });
});

describe('runtime/events', () => {
  class FakeSink implements EventSink {
    created: EventsV1Event[] = [];
    patches: Array<{ name: string; patch: Record<string, unknown> }> = [];
    async create(event: EventsV1Event): Promise<EventsV1Event> {
      this.created.push(event);
      return { ...event, metadata: { ...event.metadata, name: `ev${this.created.length}` } };
    }
    async patch(_ns: string, name: string, patch: Record<string, unknown>): Promise<void> {
      this.patches.push({ name, patch });
    }
  }
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1' } };

  it('creates one event and aggregates repeats into a series patch', async () => {
    const clock = new FakeClock();
    const sink = new FakeSink();
    const rec = new EventRecorder({ sink, controller: 'ciliate.io/test', instance: 'i1', clock, flushIntervalMs: 1000 });
    rec.event(pod, 'Warning', 'PolicyInvalid', 'Reconcile', 'bad selector');
    await flush();
    expect(sink.created).to.have.length(1);
    expect(sink.created[0]).to.deep.include({ type: 'Warning', reason: 'PolicyInvalid', action: 'Reconcile', note: 'bad selector' });
    expect(sink.created[0]!.regarding).to.deep.include({ kind: 'Pod', name: 'p', namespace: 'ns', uid: 'u1' });
    expect(sink.created[0]!.metadata?.namespace).to.equal('ns');
    for (let i = 0; i < 4; i++) rec.event(pod, 'Warning', 'PolicyInvalid', 'Reconcile', 'bad selector');
    expect(sink.created).to.have.length(1);
    await clock.advance(1000);
    expect(sink.patches).to.have.length(1);
    expect(sink.patches[0]!.name).to.equal('ev1');
    expect((sink.patches[0]!.patch.series as { count: number }).count).to.equal(5);
    // A different note is a different event.
    rec.event(pod, 'Warning', 'PolicyInvalid', 'Reconcile', 'other');
    await flush();
    expect(sink.created).to.have.length(2);
  });

  it('starts a new event after the series TTL and flushes on demand', async () => {
    const clock = new FakeClock();
    const sink = new FakeSink();
    const rec = new EventRecorder({ sink, controller: 'c', instance: 'i', clock, seriesTtlMs: 60_000 });
    rec.event(pod, 'Normal', 'Synced', 'Sync', 'ok');
    rec.event(pod, 'Normal', 'Synced', 'Sync', 'ok');
    await rec.flush();
    expect(sink.patches).to.have.length(1);
    await clock.advance(61_000);
    rec.event(pod, 'Normal', 'Synced', 'Sync', 'ok');
    await flush();
    expect(sink.created).to.have.length(2);
  });
});
