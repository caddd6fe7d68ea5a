/**
 * The agents' API permissions. Node credentials (system:node:<name>) only reach the node's own
 * objects, while an agent routes to every other node and reads CiliumNodes, so agents get their
 * own client certificates in group `ciliate:agents`, bound here to a ClusterRole.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequester } from '../runtime/kube-request.ts';
import { statusCodeOf } from '../runtime/api-errors.ts';

/** The agents' ClusterRole (and ClusterRoleBinding) name. */
export const AGENT_ROLE = 'ciliate:agent';

const ROLE = {
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole',
  metadata: { name: AGENT_ROLE },
  rules: [
    { apiGroups: [''], resources: ['nodes', 'pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['cilium.io'], resources: ['ciliumnodes', 'ciliumendpoints', 'ciliumidentities'], verbs: ['get', 'list', 'watch'] },
  ],
};

const BINDING = {
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
  metadata: { name: AGENT_ROLE },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_ROLE },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ciliate:agents' }],
};

/** Creates the agents' ClusterRole and binding with the admin kubeconfig; existing ones are kept. */
export async function ensureAgentRbac(adminKubeconfig: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const request = kubeRequester(kc);
  const create = async (path: string, body: unknown) => {
    try {
      await request({ method: 'POST', path, body });
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw err;
    }
  };
  await create('/apis/rbac.authorization.k8s.io/v1/clusterroles', ROLE);
  await create('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', BINDING);
}
