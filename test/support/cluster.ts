// Stub of the shared cluster harness: a KubeConfig for a real kube-apiserver, or undefined.
// The team lead replaces this with the local cluster harness; callers skip when it is undefined.
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Returns a KubeConfig for a reachable test kube-apiserver, loaded from the file named by the
 * KUBECONFIG environment variable, or undefined when none is configured (tests then skip).
 * client-node is imported lazily so that merely loading this module never pulls it in.
 */
export async function testKubeConfig(): Promise<KubeConfig | undefined> {
  const path = process.env.KUBECONFIG;
  if (!path) return undefined;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
