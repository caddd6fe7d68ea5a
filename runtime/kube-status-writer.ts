// StatusWriter that PATCHes the /status subresource through client-node's HTTP stack.
import { PatchStrategy, type KubeConfig } from '@kubernetes/client-node';
import { kubeRequester, type KubeRequester } from './kube-request.ts';
import type { Request } from './reconcile.ts';
import { resourcePath, type ResourceRef } from './resource.ts';
import type { StatusWriter } from './status.ts';

/**
 * A {@link StatusWriter} for `ref` (core or custom) on the cluster of `kc`, sending PATCH to
 * `.../{name}/status` with the content type of client-node's PatchStrategy.
 */
export function statusWriter(kc: KubeConfig, ref: ResourceRef, requester?: KubeRequester): StatusWriter {
  const request = requester ?? kubeRequester(kc);
  const patch = (req: Request, body: unknown, contentType: string): Promise<unknown> =>
    request({ method: 'PATCH', path: resourcePath(ref, req.namespace, req.name, 'status'), body, contentType });
  return {
    jsonPatch: (req, ops) => (ops.length === 0 ? Promise.resolve(undefined) : patch(req, ops, PatchStrategy.JsonPatch)),
    mergePatch: (req, body) => patch(req, body, PatchStrategy.MergePatch),
  };
}
