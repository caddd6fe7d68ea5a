/**
 * The agents' API permissions. Node credentials (system:node:<name>) only reach the node's own
 * objects, while an agent routes to every other node and reads CiliumNodes, so agents get their
 * own client certificates in group `ciliate:agents`, bound here to a ClusterRole.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequester, serverSideApply } from '../runtime/kube-request.ts';
import { FIELD_MANAGER } from './crd-install.ts';

/** The agents' ClusterRole (and ClusterRoleBinding) name. */
export const AGENT_ROLE = 'ciliate:agent';

const ROLE = {
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole',
  metadata: { name: AGENT_ROLE },
  rules: [
    { apiGroups: [''], resources: ['nodes', 'pods', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['cilium.io'], resources: ['ciliumnodes', 'ciliumnetworkpolicies', 'ciliumclusterwidenetworkpolicies', 'ciliumcidrgroups'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
    // Endpoints and identities are the agent's to write (identities: create by name, heartbeat unmark).
    { apiGroups: ['cilium.io'], resources: ['ciliumendpoints', 'ciliumidentities'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    // The Node's NetworkUnavailable condition (agent/node-setup/node-condition.ts).
    { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    // Warnings about the node's maps (pressure, rows the kernel refused).
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] },
  ],
};

const BINDING = {
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
  metadata: { name: AGENT_ROLE },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_ROLE },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ciliate:agents' }],
};

/** Applies the agents' ClusterRole and binding with the admin kubeconfig (server-side apply: kept current). */
export async function ensureAgentRbac(adminKubeconfig: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const request = kubeRequester(kc);
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await serverSideApply(request, `${rbac}/clusterroles/${encodeURIComponent(AGENT_ROLE)}`, ROLE, FIELD_MANAGER);
  await serverSideApply(request, `${rbac}/clusterrolebindings/${encodeURIComponent(AGENT_ROLE)}`, BINDING, FIELD_MANAGER);
}
