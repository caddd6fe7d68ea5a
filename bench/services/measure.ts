/**
 * Interleaved measurement. Each sample is one client run that takes turns, operation by operation,
 * between the server's pod IP, the ClusterIP and a loopback server in the client's own namespace
 * (a reference no datapath touches), so the three share whatever else the machine is doing at that
 * moment. Rounds alternate the order of the datapaths. Around each client run the CPU time of the
 * processes serving the path (the server, and the agent or kube-proxy) is read from /proc, so the
 * report can say where the time went.
 */
import { readFileSync } from 'node:fs';
import { runClient, type LoadMode, type TargetResult } from './loadgen.ts';

/** The three targets of every sample. */
export type Via = 'pod IP' | 'ClusterIP' | 'loopback';

/** The order of the targets in a client run. */
export const VIAS: readonly Via[] = ['pod IP', 'ClusterIP', 'loopback'];

/** One datapath: where its client runs and the `ip:port` of each target. */
export interface BenchDatapath {
  /** Row label, e.g. "Ciliate" / "kube-proxy iptables-nft". */
  name: string;
  netnsPath: string;
  /** The client's cgroup (its node's, for Ciliate: socket-level translation applies to it). */
  cgroupProcs?: string;
  targets: Record<Via, string>;
  /** Processes whose CPU time is charged to the datapath, by role ("server", "agent", "kube-proxy"). */
  pids(): Record<string, number | undefined>;
}

/** One client run: per target results, the client's CPU, and the CPU the datapath's processes used meanwhile (seconds). */
export interface Sample {
  seconds: number;
  clientCpu: number;
  via: Record<Via, TargetResult>;
  cpu: Record<string, number>;
}

/** Samples of one datapath per mode. */
export type DatapathSamples = Record<LoadMode, Sample[]>;

const TICK_S = 0.01; // USER_HZ is 100 on Linux

/** User + system CPU seconds of a process so far (undefined when it is gone). */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}

/** One client run of `seconds` against every target of `d`. */
export async function sample(bin: string, cpu: number, d: BenchDatapath, mode: LoadMode, seconds: number): Promise<Sample> {
  const pids = d.pids();
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const r = await runClient(bin, d.netnsPath, cpu, mode, VIAS.map((v) => d.targets[v]), seconds, d.cgroupProcs);
  const used: Record<string, number> = {};
  for (const [k, p] of Object.entries(pids)) {
    const a = before[k], b = cpuSeconds(p);
    if (a !== undefined && b !== undefined) used[k] = b - a;
  }
  const via = Object.fromEntries(VIAS.map((v, i) => [v, r.targets[i]!])) as Record<Via, TargetResult>;
  return { seconds: r.seconds, clientCpu: r.cpu_s, via, cpu: used };
}

/** Runs `rounds` rounds over `datapaths` (order alternating per round); logs each sample through `log`. */
export async function measureRounds(opts: {
  bin: string; clientCpu: number; datapaths: BenchDatapath[]; rounds: number; seconds: number; log: (line: string) => void;
}): Promise<Map<string, DatapathSamples>> {
  const out = new Map<string, DatapathSamples>(opts.datapaths.map((d) => [d.name, { crr: [], rr: [] }]));
  for (let round = 0; round < opts.rounds; round++) {
    for (const d of round % 2 ? [...opts.datapaths].reverse() : opts.datapaths) {
      for (const mode of ['crr', 'rr'] as const) {
        const s = await sample(opts.bin, opts.clientCpu, d, mode, opts.seconds);
        out.get(d.name)![mode].push(s);
        const rates = VIAS.map((v) => `${v} ${Math.round(s.via[v].rate)}${s.via[v].failures ? ` (${s.via[v].failures} failed)` : ''}`).join(', ');
        opts.log(`  round ${round + 1}/${opts.rounds} ${d.name.padEnd(24)} ${mode.toUpperCase().padEnd(3)} per s: ${rates}`);
      }
    }
  }
  return out;
}
