/**
 * iptables chains the agent owns (upstream's CILIUM_* chains): each is written whole and atomically
 * from its desired rules, never edited rule by rule, and fed from a built-in chain of its table by
 * one jump inserted first (as upstream's default `prepend-iptables-chains`).
 */
import { run } from './exec.ts';

/** A chain the agent owns. */
export interface OwnedChain {
  readonly table: 'mangle' | 'raw' | 'filter' | 'nat';
  /** Upstream's chain name. */
  readonly name: string;
  /** The built-in chain that jumps to it. */
  readonly hook: 'PREROUTING' | 'INPUT' | 'OUTPUT' | 'POSTROUTING';
  /** Its rules (iptables-restore syntax, without `-A CHAIN`). */
  readonly rules: readonly string[];
}

/** iptables-restore input (with --noflush) that writes `chains` whole, each table committed once. */
export function restoreInput(chains: readonly OwnedChain[]): string {
  const tables = [...new Set(chains.map((c) => c.table))];
  return tables.flatMap((t) => {
    const own = chains.filter((c) => c.table === t);
    return [`*${t}`, ...own.map((c) => `:${c.name} - [0:0]`), ...own.flatMap((c) => c.rules.map((r) => `-A ${c.name} ${r}`)), 'COMMIT'];
  }).join('\n') + '\n';
}

/** Writes the chains whole in one iptables-restore and makes sure each one's built-in chain jumps to it once. */
export async function writeOwnedChains(chains: readonly OwnedChain[]): Promise<void> {
  await run('iptables-restore', ['-w', '--noflush'], { input: restoreInput(chains) });
  for (const c of chains) {
    const feeder = ['-m', 'comment', '--comment', `cilium-feeder: ${c.name}`, '-j', c.name];
    const present = await run('iptables', ['-w', '-t', c.table, '-C', c.hook, ...feeder]).then(() => true, () => false);
    if (!present) await run('iptables', ['-w', '-t', c.table, '-I', c.hook, '1', ...feeder]);
  }
}
