/** Waiting for a cluster's nodes to report Ready. */
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequester } from '../runtime/kube-request.ts';

interface NodeLike {
  status?: { conditions?: { type: string; status: string }[] };
}

/** Resolves once every node in `names` has condition Ready=True; throws after `timeoutMs`. */
export async function waitNodesReady(adminKubeconfig: string, names: string[], timeoutMs = 90_000): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const request = kubeRequester(kc);
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(names);
  while (pending.size > 0) {
    for (const name of [...pending]) {
      const node = (await request({ method: 'GET', path: `/api/v1/nodes/${name}` }).catch(() => undefined)) as NodeLike | undefined;
      if (node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) pending.delete(name);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) throw new Error(`nodes not Ready within ${timeoutMs / 1000}s: ${[...pending].join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
