// Runs datapath calls inside another network namespace (ifindexes are per namespace).
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
