// A ListWatchSource for any resource, backed by client-node's Watch and raw JSON lists.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { kubeRequester, type KubeRequester } from './kube-request.ts';
import { Informer, type InformerOptions } from './informer.ts';
import type { ListWatchSource } from './list-watch.ts';
import { resourcePath, type ResourceRef } from './resource.ts';

/** Options for {@link kubeListWatch}. */
export interface KubeListWatchOptions {
  /** Restrict to one namespace; default all namespaces. */
  namespace?: string;
  /** Label selector, e.g. `app=x`. */
  labelSelector?: string;
  /** Field selector, e.g. `spec.nodeName=n1`. */
  fieldSelector?: string;
  /** Page size for lists; default 500. */
  pageSize?: number;
  /** Server-side watch timeout in seconds; default 5-10 min, randomised to spread reconnects. */
  watchTimeoutSeconds?: number;
  /** Override the HTTP client (tests). */
  requester?: KubeRequester;
}

/**
 * A list/watch source for any resource, core or custom, on the cluster of `kc`. Lists return
 * plain JSON (no model classes), the same shape watch events have, so the cache is uniform.
 * Watches ask for bookmarks so restarts resume from a recent resourceVersion.
 */
export function kubeListWatch<T extends KubernetesObject>(
  kc: KubeConfig,
  ref: ResourceRef,
  opts: KubeListWatchOptions = {},
): ListWatchSource<T> {
  const request = opts.requester ?? kubeRequester(kc);
  const watcher = new Watch(kc);
  const path = resourcePath(ref, opts.namespace);
  const selectors = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
  return {
    async list() {
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const page = (await request({
          method: 'GET',
          path,
          query: { ...selectors, limit: opts.pageSize ?? 500, continue: cont },
        })) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
        items.push(...(page.items ?? []));
        resourceVersion = page.metadata?.resourceVersion ?? '';
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const timeout = opts.watchTimeoutSeconds ?? Math.floor(300 + Math.random() * 300);
      const query = { ...selectors, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeout };
      const ctrl = await watcher.watch(path, query, (type, object) => onEvent({ type, object }), onDone);
      return { abort: () => ctrl.abort() };
    },
  };
}

/** Shorthand for `new Informer(kubeListWatch(kc, ref, opts), { name: ref.plural, ...informerOpts })`. */
export function kubeInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  ref: ResourceRef,
  opts: KubeListWatchOptions = {},
  informerOpts: InformerOptions = {},
): Informer<T> {
  return new Informer<T>(kubeListWatch<T>(kc, ref, opts), { name: ref.plural, ...informerOpts });
}
