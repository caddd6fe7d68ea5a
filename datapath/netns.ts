// Runs datapath calls inside another network namespace (ifindexes are per namespace), and creates
// named namespaces.
import { closeSync, openSync } from 'node:fs';
import { native } from './native.ts';

/**
 * Calls fn with the main thread switched into the network namespace at nsPath (e.g. /run/netns/x),
 * and switches back afterwards even when fn throws. Only synchronous work belongs in fn.
 */
export function inNetns<T>(nsPath: string, fn: () => T): T {
  const self = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(nsPath, 'r');
  try {
    native().setNetns(target);
    try {
      return fn();
    } finally {
      native().setNetns(self);
    }
  } finally {
    closeSync(target);
    closeSync(self);
  }
}

/**
 * Creates a new, empty network namespace kept at `nsPath` (e.g. /run/netns/x), as `ip netns add`
 * does but without a process: `ip netns`, nsenter and inNetns() find it there, and `ip netns del`
 * removes it. Throws EEXIST when the path is taken.
 */
export function createNetns(nsPath: string): void {
  native().netnsCreate(nsPath);
}
