/**
 * Pressure of the maps the datapath fills itself (conntrack, NAT, affinity, drop aggregation): no
 * table says how full they are, so their entries are counted in the kernel every interval (keys
 * walked on a worker thread, at most capacity + 1 of them) and recorded as
 * `cilium_bpf_map_pressure{map_name}`, as upstream reports its conntrack pressure from the entries
 * its garbage collector counts.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { BpfMap } from '../datapath/maps/bpf-map.ts';
import { mapCapacity } from '../datapath/maps/map-ops.ts';
import { realClock, sleep, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { KernelTables } from './kernel-tables.ts';

/** One map to sample. */
export interface SampledSource {
  /** The `map_name` label (upstream's name of the map). */
  mapName: string;
  /** The map (its fd tells the capacity; `count` walks its keys). */
  map: Pick<BpfMap<unknown, unknown>, 'fd' | 'count'>;
  owner: KubernetesObject;
}

/** Default time between two samples of every map. */
export const MAP_SAMPLE_INTERVAL_MS = 30_000;

/**
 * Samples the maps `open()` resolves to (once the kernel side is open) now and every `intervalMs`
 * until stopped; a map that cannot be counted is logged and sampled again next time.
 */
export function mapPressureSampler(kernel: KernelTables, open: () => Promise<SampledSource[]>, log: Logger, intervalMs = MAP_SAMPLE_INTERVAL_MS, clock: Clock = realClock): Runnable {
  return {
    needLeaderElection: false,
    async start(signal) {
      const sources = await open();
      const maps = sources.map((s) => {
        const capacity = mapCapacity(s.map);
        return { ...s, capacity, record: kernel.registerSampled({ mapName: s.mapName, capacity, owner: s.owner }) };
      });
      do {
        for (const m of maps) {
          try {
            m.record(await m.map.count(m.capacity + 1));
          } catch (err) {
            log.warn('cannot count the entries of a BPF map', { map: m.mapName, err: (err as Error).message });
          }
        }
      } while (!signal.aborted && (await sleep(clock, intervalMs, signal)));
    },
  };
}
