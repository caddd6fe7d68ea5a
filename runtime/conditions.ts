// Status conditions (metav1.Condition shape) with Kubernetes transition-time semantics.

/** A status condition as in metav1.Condition. */
export interface Condition {
  /** Condition type in CamelCase, e.g. `Ready`. */
  type: string;
  /** `True`, `False` or `Unknown`. */
  status: 'True' | 'False' | 'Unknown';
  /** CamelCase machine-readable reason for the last transition. */
  reason: string;
  /** Human-readable detail. */
  message: string;
  /** metadata.generation the condition was computed from. */
  observedGeneration?: number;
  /** RFC 3339 time the status last changed. */
  lastTransitionTime: string;
}

/** A condition to set; the transition time is filled in by {@link setCondition}. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** Returns the condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Returns `conditions` with `update` applied (the input is not mutated) and whether anything
 * changed. `lastTransitionTime` is set to `now` only when the condition is new or its status
 * changes; a new reason, message or observedGeneration keeps the old transition time.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date = new Date(),
): { conditions: Condition[]; changed: boolean } {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === update.type);
  const existing = i >= 0 ? list[i] : undefined;
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const next: Condition = {
    ...update,
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : stamp,
  };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  if (existing && sameCondition(existing, next)) return { conditions: list, changed: false };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return { conditions: list, changed: true };
}

/** Returns `conditions` without the condition of `type`, and whether it was present. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): { conditions: Condition[]; changed: boolean } {
  const list = (conditions ?? []).filter((c) => c.type !== type);
  return { conditions: list, changed: list.length !== (conditions?.length ?? 0) };
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}
