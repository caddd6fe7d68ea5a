/** The local cluster's add-ons beyond Ciliate itself: today the cluster DNS (CoreDNS behind kube-dns). */
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';

const ADDONS = import.meta.dirname;

/** Applies CoreDNS with the cluster's kubectl and waits until it serves (its Deployment is available). */
export async function installClusterDns(binDir: string, kubeconfig: string, timeoutSeconds = 180): Promise<void> {
  const kubectl = (...args: string[]) => run(join(binDir, 'kubectl'), args, { env: { KUBECONFIG: kubeconfig } });
  await kubectl('apply', '--server-side', '--force-conflicts', '--field-manager=ciliate', '-f', join(ADDONS, 'coredns.yaml'));
  await kubectl('-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', `--timeout=${timeoutSeconds}s`);
}
