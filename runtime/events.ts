// Recording Kubernetes Events (events.k8s.io/v1), aggregating repeats into an event series.
import type { EventsV1Event, KubernetesObject, V1ObjectReference } from '@kubernetes/client-node';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { nopLogger, type Logger } from './logger.ts';
import { microTime, MicroTime } from './micro-time.ts';

/** Where events are written; `eventsV1Sink` (kube-event-sink.ts) writes them to the API server. */
export interface EventSink {
  /** Creates an event; resolves with the stored event (its name is needed for patches). */
  create(event: EventsV1Event): Promise<EventsV1Event>;
  /** Merge-patches an existing event (used to bump its series). */
  patch(namespace: string, name: string, patch: Record<string, unknown>): Promise<void>;
}

/** Event type: `Normal` or `Warning`. */
export type EventType = 'Normal' | 'Warning';

/** Options for {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Where events go. */
  sink: EventSink;
  /** reportingController, e.g. `ciliate.io/operator`. */
  controller: string;
  /** reportingInstance, e.g. the pod name. */
  instance: string;
  /** Repeats are written at most this often per series; default 30 s. */
  flushIntervalMs?: number;
  /** A series not seen for this long starts a new Event; default 10 min. */
  seriesTtlMs?: number;
  /** Maximum number of series tracked; the oldest is forgotten beyond it. Default 4096. */
  maxSeries?: number;
  /** Clock; default real. */
  clock?: Clock;
  /** Logger for write failures; default discards. */
  log?: Logger;
}

/** Tracking state for one (object, type, reason, action, note) combination. */
interface Series {
  namespace: string;
  name?: string;
  count: number;
  written: number;
  lastSeen: number;
  flush?: TimerHandle;
  creating?: Promise<void>;
}

/**
 * Emits Events about objects. Writes are fire-and-forget (failures are logged, never thrown),
 * so reconcilers can record freely.
 *
 * Aggregation: the first occurrence creates an Event; identical repeats (same object, type,
 * reason, action and note) within `seriesTtlMs` only bump a counter, which is written as the
 * event's `series` (count, lastObservedTime) by a merge patch at most every `flushIntervalMs`.
 */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly flushMs: number;
  private readonly ttlMs: number;
  private readonly maxSeries: number;

  /** Creates a recorder writing to `opts.sink`. */
  constructor(private readonly opts: EventRecorderOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = (opts.log ?? nopLogger).child({ component: 'events' });
    this.flushMs = opts.flushIntervalMs ?? 30_000;
    this.ttlMs = opts.seriesTtlMs ?? 10 * 60_000;
    this.maxSeries = opts.maxSeries ?? 4096;
  }

  /** Records that `action` on `regarding` happened, for `reason`, with a human `note`. */
  event(regarding: KubernetesObject, type: EventType, reason: string, action: string, note: string): void {
    const ref = referenceOf(regarding);
    const key = JSON.stringify([ref.uid ?? '', ref.kind, ref.namespace ?? '', ref.name, type, reason, action, note]);
    const now = this.clock.now();
    const existing = this.series.get(key);
    if (existing && now - existing.lastSeen < this.ttlMs) {
      existing.count++;
      existing.lastSeen = now;
      this.series.delete(key);
      this.series.set(key, existing); // keep insertion order = recency
      this.scheduleFlush(existing);
      return;
    }
    if (existing?.flush !== undefined) this.clock.clearTimeout(existing.flush);
    const s: Series = { namespace: ref.namespace || 'default', count: 1, written: 1, lastSeen: now };
    this.series.delete(key);
    this.series.set(key, s);
    this.evict();
    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: s.namespace, name: eventName(ref.name ?? 'event', now) },
      eventTime: new MicroTime(now),
      type,
      reason,
      action,
      note: note.slice(0, 1024),
      regarding: ref,
      reportingController: this.opts.controller,
      reportingInstance: this.opts.instance,
    };
    s.creating = this.opts.sink.create(body).then(
      (created) => {
        s.name = created.metadata?.name;
      },
      (err: unknown) => this.log.warn('creating event failed', { err, reason }),
    );
  }

  /** Writes pending series counts now and cancels timers (call on shutdown). */
  async flush(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const s of this.series.values()) {
      if (s.flush !== undefined) this.clock.clearTimeout(s.flush);
      s.flush = undefined;
      pending.push(this.writeSeries(s));
    }
    await Promise.all(pending);
  }

  private scheduleFlush(s: Series): void {
    if (s.flush !== undefined) return;
    s.flush = this.clock.setTimeout(() => {
      s.flush = undefined;
      void this.writeSeries(s);
    }, this.flushMs);
  }

  /** Patches the event's series if its count moved since the last write. */
  private async writeSeries(s: Series): Promise<void> {
    await s.creating;
    if (!s.name || s.count === s.written) return;
    const count = s.count;
    try {
      await this.opts.sink.patch(s.namespace, s.name, {
        series: { count, lastObservedTime: microTime(s.lastSeen) },
      });
      s.written = Math.max(s.written, count);
    } catch (err) {
      this.log.warn('updating event series failed', { err });
    }
  }

  private evict(): void {
    for (const [key, s] of this.series) {
      if (this.series.size <= this.maxSeries) break;
      if (s.flush !== undefined) this.clock.clearTimeout(s.flush);
      this.series.delete(key);
    }
  }
}

/** An ObjectReference for `obj`. */
export function referenceOf(obj: KubernetesObject): V1ObjectReference {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata?.namespace,
    name: obj.metadata?.name,
    uid: obj.metadata?.uid,
    resourceVersion: obj.metadata?.resourceVersion,
  };
}


/**
 * A unique Event name `<object>.<hex time><hex random>`. (events.k8s.io rejects a generateName
 * ending in '.', so the suffix is chosen here.)
 */
function eventName(objectName: string, now: number): string {
  const suffix = now.toString(16) + Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
  return `${objectName.slice(0, 200)}.${suffix}`;
}
