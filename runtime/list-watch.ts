// The list and watch primitives an Informer consumes (see kube-list-watch.ts for the API-backed one).
import type { KubernetesObject } from '@kubernetes/client-node';

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
