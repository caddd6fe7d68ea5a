/**
 * Identities for the proxy process: the node's ipcache as the datapath reads it, the map the agent
 * pinned (`cilium_ipcache` below its pin root), looked up longest-prefix. The map is reopened now
 * and then, so a map the agent replaced is followed; while there is none, every address is world.
 */
import { join } from 'node:path';
import { BpfMap } from '../datapath/maps/bpf-map.ts';
import { IPCACHE_CODECS, ipcacheKey, type IpcacheMap } from '../datapath/maps/ipcache.ts';
import { ReservedIdentity } from '../identity/numeric.ts';

/** How long an open map is used before the pin is opened again. */
const REOPEN_MS = 5000;

/** The security identity of an address, from the pinned ipcache under `pinRoot`. */
export function pinnedIpcacheIdentity(pinRoot: string, now: () => number = Date.now): (ip: string) => number {
  const path = join(pinRoot, 'cilium_ipcache');
  let map: IpcacheMap | undefined;
  let openedAt = 0;
  const current = (): IpcacheMap | undefined => {
    if (map && now() - openedAt < REOPEN_MS) return map;
    map?.[Symbol.dispose]();
    map = undefined;
    openedAt = now();
    try {
      map = BpfMap.openPinned(path, IPCACHE_CODECS.key, IPCACHE_CODECS.value);
    } catch {
      // Not pinned yet (the agent has not loaded its datapath): world until it is.
    }
    return map;
  };
  return (ip) => {
    try {
      return current()?.lookup(ipcacheKey(`${ip}/32`))?.secIdentity ?? ReservedIdentity.world;
    } catch {
      return ReservedIdentity.world;
    }
  };
}
