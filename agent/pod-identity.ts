/**
 * What the enforcer asks about a pod: its identity-relevant labels and named ports (from the pod and
 * namespace caches, or the apiserver when a cache does not have them yet), and the security identity
 * of a label set (an existing CiliumIdentity with exactly those labels, else a new one allocated).
 */
import type { KubeConfig, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { CrdIdentityAllocator } from '../identity/allocator.ts';
import type { IdentityBackend } from '../identity/backend.ts';
import { labelsOfCiliumIdentity } from '../identity/ciliumidentity.ts';
import { K8sIdentityBackend } from '../identity/k8s-identity-backend.ts';
import { LabelFilter } from '../identity/label-filter.ts';
import { LabelSet } from '../identity/labels.ts';
import { sanitizePodLabels } from '../identity/pod-labels.ts';
import type { NamedPort } from '../policy/ports.ts';
import { kubeRequester } from '../runtime/kube-request.ts';
import type { EnforcementCaches } from './enforcement-caches.ts';
import type { PodFacts } from './endpoint-enforcer.ts';

/** What pod facts and identities need. */
export interface PodIdentityDeps {
  kc: KubeConfig;
  caches: Pick<EnforcementCaches, 'pods' | 'namespaces' | 'identities'>;
  clusterName: string;
  /** Identity-relevant label patterns added to upstream's defaults. */
  labels?: string[];
  /** ClusterMesh cluster id: the range new identities are numbered from. */
  clusterId?: number;
  /** Default: CiliumIdentity objects through the API. */
  identityBackend?: IdentityBackend;
}

/** The two questions the enforcer asks. */
export interface PodIdentity {
  podFacts(namespace: string, name: string): Promise<PodFacts>;
  allocateIdentity(labels: LabelSet): Promise<number>;
}

/** Answers from the caches and the apiserver. */
export function podIdentity(d: PodIdentityDeps): PodIdentity {
  const request = kubeRequester(d.kc);
  const { pods, namespaces, identities } = d.caches;
  const filter = new LabelFilter(d.labels ?? []);
  const allocator = new CrdIdentityAllocator(d.identityBackend ?? new K8sIdentityBackend(request), { clusterId: d.clusterId ?? 0 });
  return {
    async podFacts(namespace, name) {
      // An endpoint the runtime gave no pod for: the reserved init identity, as upstream's not-yet-known endpoints.
      if (!namespace || !name) return { labels: LabelSet.parse(['reserved:init']) };
      const pod = pods.get(`${namespace}/${name}`) ?? (await request({ method: 'GET', path: `/api/v1/namespaces/${namespace}/pods/${name}` })) as V1Pod;
      const ns = namespaces.get(namespace) ?? (await request({ method: 'GET', path: `/api/v1/namespaces/${namespace}` })) as V1Namespace;
      const all = sanitizePodLabels({
        namespace, podLabels: pod.metadata?.labels ?? {}, namespaceLabels: ns.metadata?.labels ?? {},
        serviceAccount: pod.spec?.serviceAccountName, clusterName: d.clusterName,
      });
      const namedPorts: NamedPort[] = (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? [])
        .filter((p) => p.name).map((p) => ({ name: p.name!, port: p.containerPort, protocol: (p.protocol ?? 'TCP') as NamedPort['protocol'] })));
      return { labels: filter.filter(all).identity, namedPorts };
    },
    async allocateIdentity(labels) {
      // Fast path: a CiliumIdentity with exactly these labels is already known (the lowest number wins).
      const known = identities.list()
        .filter((obj) => !obj.metadata?.deletionTimestamp && labelsOfCiliumIdentity(obj).equals(labels))
        .map((obj) => Number(obj.metadata?.name)).filter((n) => Number.isInteger(n)).sort((a, b) => a - b)[0];
      return known ?? (await allocator.allocate(labels)).id;
    },
  };
}
