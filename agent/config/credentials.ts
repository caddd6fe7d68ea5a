/**
 * The agent's API credentials: the kubeconfig named by `k8s-kubeconfig-path`, else in-cluster
 * credentials (the pod's service account token and CA, the API at KUBERNETES_SERVICE_HOST/PORT),
 * as upstream's agent does in its DaemonSet.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../runtime/settings.ts';

/** Where kubelet mounts a pod's service account token and CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A client configuration from `kubeconfig`, or in-cluster when it is undefined. `root` prefixes
 * the service account paths (tests). Throws a {@link ConfigError} when neither is available.
 */
export function agentKubeConfig(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>>, root = ''): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) {
    if (!existsSync(kubeconfig)) throw new ConfigError('k8s-kubeconfig-path', `${kubeconfig} does not exist`);
    kc.loadFromFile(kubeconfig);
    return kc;
  }
  const token = `${root}${SERVICE_ACCOUNT_DIR}/token`;
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT || !existsSync(token)) {
    throw new ConfigError('k8s-kubeconfig-path', `not set, and no in-cluster service account here (KUBERNETES_SERVICE_HOST/PORT and ${token} are needed)`);
  }
  kc.loadFromCluster(root);
  return kc;
}
