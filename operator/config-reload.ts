// Re-reading config-dir so CIDRs appended to a cluster-pool list are used without a restart.
import type { ClusterPoolIpam } from '../reconcilers/cluster-pool-ipam.ts';
import { realClock, sleep, type Logger, type Runnable } from '../runtime/index.ts';
import type { OperatorConfig } from './config.ts';

/**
 * Polls the configuration every `config-reload-interval` on every replica. New entries in
 * `cluster-pool-ipv4-cidr` / `cluster-pool-ipv6-cidr` are added to the allocator (and nodes
 * waiting on an exhausted pool retried). Any other change, including a removed CIDR or a new
 * mask size, only takes effect on restart and is logged as such; an invalid file is logged and
 * the running configuration kept.
 */
export function configReloader(initial: OperatorConfig, reload: () => OperatorConfig, ipam: ClusterPoolIpam, log: Logger): Runnable {
  let seen = JSON.stringify(initial);
  return {
    needLeaderElection: false,
    async start(signal) {
      while (await sleep(realClock, initial.configReloadIntervalMs, signal)) {
        let next: OperatorConfig;
        try {
          next = reload();
        } catch (err) {
          log.error('configuration reload rejected; keeping the running configuration', { err: (err as Error).message });
          continue;
        }
        const text = JSON.stringify(next);
        if (text === seen) continue;
        seen = text;
        for (const [family, pool] of Object.entries(next.clusterPool)) {
          if (!pool) continue;
          const before = initial.clusterPool[family as 'ipv4' | 'ipv6'];
          if (before && before.maskSize !== pool.maskSize) {
            log.warn(`cluster-pool-${family}-mask-size cannot change on a running operator; restart to apply`);
            continue;
          }
          try {
            ipam.addCidrs(family as 'ipv4' | 'ipv6', pool.cidrs);
          } catch (err) {
            log.error(`cluster-pool-${family}-cidr: new entries not applied; restart to apply`, { err: (err as Error).message });
          }
        }
      }
    },
  };
}
