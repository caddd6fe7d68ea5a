/**
 * Installs Ciliate's CRDs into a cluster (server-side apply, so it also upgrades them) and waits until
 * each is Established. The local cluster does this as soon as its apiserver answers, before any
 * node agent starts, as upstream's operator registers its CRDs at start-up.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { CRDS, GROUP } from '../crds/definitions.ts';
import { crdObject } from '../crds/render.ts';
import { kubeRequester, serverSideApply } from '../runtime/kube-request.ts';

/** The field manager the local cluster applies its objects as. */
export const FIELD_MANAGER = 'ciliate';

/** Installs every CRD and resolves once all are Established (or throws after `timeoutMs`). */
export async function installCrds(adminKubeconfig: string, timeoutMs = 60_000): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const request = kubeRequester(kc);
  const path = (plural: string) => `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${GROUP}`;
  for (const crd of CRDS) await serverSideApply(request, path(crd.plural), crdObject(crd), FIELD_MANAGER);
  const deadline = Date.now() + timeoutMs;
  for (const crd of CRDS) {
    for (;;) {
      const obj = (await request({ method: 'GET', path: path(crd.plural) })) as { status?: { conditions?: { type: string; status: string }[] } };
      if (obj.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.plural}.${GROUP} did not become Established`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
