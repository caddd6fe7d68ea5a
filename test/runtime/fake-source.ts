// An in-memory ListWatchSource whose list results and watch streams tests control.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Listing, ListWatchSource, WatchEvent, WatchHandle } from '../../runtime/list-watch.ts';

/** One open fake watch. */
export interface FakeWatch {
  resourceVersion: string;
  emit(ev: WatchEvent): void;
  end(err: unknown): void;
  aborted: boolean;
}

/** Builds a namespaced test object. */
export function obj(name: string, rv: string, ns = 'default', extra: Partial<KubernetesObject> = {}): KubernetesObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, resourceVersion: rv }, ...extra };
}

/** Controllable source: set `items`/`rv`, make lists fail, drive watches. */
export class FakeSource implements ListWatchSource<KubernetesObject> {
  items: KubernetesObject[] = [];
  rv = '1';
  listCalls = 0;
  failLists = 0;
  watches: FakeWatch[] = [];

  /** Lists `items`, failing the next `failLists` calls. */
  async list(): Promise<Listing<KubernetesObject>> {
    this.listCalls++;
    if (this.failLists > 0) {
      this.failLists--;
      throw Object.assign(new Error('list failed'), { code: 500 });
    }
    return { items: [...this.items], resourceVersion: this.rv };
  }

  /** Opens a fake watch. */
  async watch(resourceVersion: string, onEvent: (ev: WatchEvent) => void, onDone: (err: unknown) => void): Promise<WatchHandle> {
    let done = false;
    const w: FakeWatch = {
      resourceVersion,
      aborted: false,
      emit: (ev) => {
        if (!done) onEvent(ev);
      },
      end: (err) => {
        if (done) return;
        done = true;
        onDone(err);
      },
    };
    this.watches.push(w);
    return {
      abort: () => {
        w.aborted = true;
        w.end(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      },
    };
  }

  /** The most recent watch. */
  get current(): FakeWatch {
    const w = this.watches[this.watches.length - 1];
    if (!w) throw new Error('no watch open');
    return w;
  }
}
