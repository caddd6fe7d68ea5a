/**
 * The CiliumIdentity object (cilium.io/v2, cluster-scoped) as upstream shapes it: the name is the
 * numeric identity, `security-labels` holds the full source-prefixed label set, and
 * `metadata.labels` repeats only the `k8s:` labels (without source) for `kubectl -l` queries.
 */
import { LabelSet, formatLabel, parseLabel } from './labels.ts';

/** Annotation the identity GC puts on unused identities, value an RFC 3339 time. */
export const HEARTBEAT_ANNOTATION = 'io.cilium.heartbeat';

/** A CiliumIdentity as stored on the apiserver. */
export interface CiliumIdentityObject {
  apiVersion: 'cilium.io/v2';
  kind: 'CiliumIdentity';
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    creationTimestamp?: string;
  };
  'security-labels': Record<string, string>;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Builds the CiliumIdentity object for `id` with `labels`. */
export function toCiliumIdentity(id: number, labels: LabelSet): CiliumIdentityObject {
  const security: Record<string, string> = {};
  const meta: Record<string, string> = {};
  for (const l of labels.labels) {
    security[`${l.source}:${l.key}`] = l.value;
    if (l.source === 'k8s' && LABEL_KEY.test(l.key) && l.key.length <= 316 && LABEL_VALUE.test(l.value)) {
      meta[l.key] = l.value;
    }
  }
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumIdentity',
    metadata: { name: String(id), labels: meta },
    'security-labels': security,
  };
}

/** The label set stored in a CiliumIdentity's `security-labels`. */
export function labelsOfCiliumIdentity(obj: CiliumIdentityObject): LabelSet {
  return new LabelSet(
    Object.entries(obj['security-labels'] ?? {}).map(([k, v]) => parseLabel(`${k}=${v}`, 'unspec')),
  );
}

/** The numeric identity named by the object, or undefined if the name is not a number. */
export function idOfCiliumIdentity(obj: CiliumIdentityObject): number | undefined {
  return /^\d+$/.test(obj.metadata.name) ? Number(obj.metadata.name) : undefined;
}

/** `security-labels` keys formatted back to label strings (for messages). */
export function describeCiliumIdentity(obj: CiliumIdentityObject): string {
  return `${obj.metadata.name} [${labelsOfCiliumIdentity(obj).labels.map(formatLabel).join(', ')}]`;
}
