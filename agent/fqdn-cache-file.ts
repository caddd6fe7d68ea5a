/**
 * The FQDN cache across agent restarts: saved in the state directory (atomically, shortly after
 * answers change it) and put back when the agent starts, before policies are applied, so that
 * addresses `toFQDNs` allowed keep their identities and ipcache rows instead of falling back to
 * world until each pod asks DNS again (upstream restores its DNS history the same way).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../runtime/logger.ts';
import type { FqdnCache, FqdnCacheEntry } from './fqdn-cache.ts';

/** The file's name in `state-dir`. */
export const FQDN_CACHE_FILE = 'fqdn-cache.json';

/** How long after a change the file is written (changes meanwhile are written together). */
const SAVE_DELAY_MS = 1000;

function isEntry(e: unknown): e is FqdnCacheEntry {
  const o = e as Partial<FqdnCacheEntry> | null;
  return typeof o?.name === 'string' && typeof o.ip === 'string' && typeof o.expiresMs === 'number';
}

/** Puts the saved pairs back into `cache`; a missing file is an empty cache, a bad one is logged and ignored. */
export function loadFqdnCache(path: string, cache: FqdnCache, nowMs: number, log?: Logger): void {
  if (!existsSync(path)) return;
  try {
    const saved = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!Array.isArray(saved)) throw new Error('not a list of entries');
    cache.restore(saved.filter(isEntry), nowMs);
  } catch (err) {
    log?.warn('the saved FQDN cache is unreadable; starting empty', { path, err: (err as Error).message });
  }
}

/** Writes `cache` to `path` shortly after `schedule()`, or at once with `flush()`. */
export function fqdnCacheSaver(path: string, cache: FqdnCache, log?: Logger): { schedule(): void; flush(): void } {
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(cache.entries()));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      log?.warn('could not save the FQDN cache', { path, err: (err as Error).message });
    }
  };
  return {
    schedule() {
      if (timer) return;
      timer = setTimeout(flush, SAVE_DELAY_MS);
      timer.unref();
    },
    flush,
  };
}
