// The list and watch primitives an Informer consumes, backed by client-node's Watch.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { kubeRequester, type KubeRequester } from './kube-request.ts';
import { resourcePath, type ResourceRef } from './resource.ts';

/** A full listing: the items plus the collection resourceVersion to watch from. */
export interface Listing<T> {
  /** Every object in the collection. */
  readonly items: T[];
  /** resourceVersion of the list, the starting point of the following watch. */
  readonly resourceVersion: string;
}

/** One watch event: `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR` (object is a Status). */
export interface WatchEvent {
  /** Event type as sent by the API server. */
  readonly type: string;
  /** The object, or a v1 Status for `ERROR`. */
  readonly object: unknown;
}

/** Handle on a running watch. */
export interface WatchHandle {
  /** Ends the watch; its done callback then fires. */
  abort(): void;
}

/** Where an Informer gets its data; swap in a fake for unit tests. */
export interface ListWatchSource<T extends KubernetesObject> {
  /** Lists the whole collection (following pagination). */
  list(): Promise<Listing<T>>;
  /**
   * Watches from `resourceVersion`; calls `onEvent` per event and `onDone` exactly once when the
   * stream ends, with the error (an object with `statusCode` 410 for Gone) or null.
   */
  watch(resourceVersion: string, onEvent: (ev: WatchEvent) => void, onDone: (err: unknown) => void): Promise<WatchHandle>;
}

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
      let resourceVersion = '';
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
