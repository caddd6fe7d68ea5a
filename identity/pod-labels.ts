/**
 * The labels the agent adds to every pod and protects from spoofing: namespace, namespace
 * labels, service account and cluster name. Users cannot set them through pod labels.
 */
import { type Label, LabelSet, label } from './labels.ts';

/** `k8s:` key holding the pod's namespace. */
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
/** Prefix of `k8s:` keys copying the namespace's own labels. */
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
/** `k8s:` key holding the pod's service account. */
export const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
/** `k8s:` key holding the cluster name. */
export const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
/** Prefix reserved for the agent; pod labels under it are dropped. */
export const PROTECTED_PREFIX = 'io.cilium.k8s';
/** Cluster name used when none is configured. */
export const DEFAULT_CLUSTER_NAME = 'default';

/** What the agent knows about a pod when it derives its labels. */
export interface PodLabelInput {
  readonly namespace: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  readonly clusterName?: string;
}

/**
 * The pod's full `k8s:` label set: its own labels minus anything it tried to set under the
 * protected prefix or the namespace key, plus the namespace, the namespace's labels, the service
 * account (when set) and the cluster name.
 */
export function sanitizePodLabels(input: PodLabelInput): LabelSet {
  const out: Label[] = [];
  for (const [key, value] of Object.entries(input.podLabels)) {
    if (key.startsWith(PROTECTED_PREFIX) || key === POD_NAMESPACE_LABEL) continue;
    out.push(label('k8s', key, value));
  }
  out.push(label('k8s', POD_NAMESPACE_LABEL, input.namespace));
  for (const [key, value] of Object.entries(input.namespaceLabels ?? {})) {
    out.push(label('k8s', NAMESPACE_LABELS_PREFIX + key, value));
  }
  if (input.serviceAccount) out.push(label('k8s', SERVICE_ACCOUNT_LABEL, input.serviceAccount));
  out.push(label('k8s', CLUSTER_LABEL, input.clusterName ?? DEFAULT_CLUSTER_NAME));
  return new LabelSet(out);
}
