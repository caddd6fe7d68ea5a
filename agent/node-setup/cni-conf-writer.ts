/**
 * Upstream's `write-cni-conf-when-ready`: the agent writes the node's CNI configuration only once it
 * is ready (its caches synced, its CNI socket listening), so the runtime reports the node's network
 * ready, and kubelet schedules pods there, only when the agent can serve them; then it says so on
 * the Node too (`onWritten`: condition NetworkUnavailable False, agent/node-setup/node-condition.ts).
 * Runs as a Manager runnable, which the Manager starts after the caches have synced.
 */
import { basename, dirname } from 'node:path';
import type { Logger } from '../../runtime/logger.ts';
import type { Runnable } from '../../runtime/manager.ts';
import { CONFLIST_NAME, writeConflist } from './cni-install.ts';

/** Writes the conflist at `conf.path` (upstream's file name only) naming `socket` once started, then runs `onWritten`; logs, never stops the agent. */
export function cniConfWriter(conf: { path: string; exclusive: boolean }, socket: string, log: Logger, onWritten?: () => Promise<unknown>): Runnable {
  return {
    needLeaderElection: false,
    async start() {
      if (basename(conf.path) !== CONFLIST_NAME) {
        log.error(`write-cni-conf-when-ready: ${conf.path} is not named ${CONFLIST_NAME}; no CNI configuration written`);
        return;
      }
      try {
        const renamed = writeConflist(dirname(conf.path), { socket }, conf.exclusive);
        log.info('CNI configuration written', { path: conf.path, ...(renamed.length ? { renamed } : {}) });
      } catch (err) {
        log.error('CNI configuration not written', { error: (err as Error).message });
        return;
      }
      await onWritten?.().catch((err: unknown) => log.warn('could not mark the Node network available', { error: (err as Error).message }));
    },
  };
}
