/**
 * What Ciliate's endpoint programs cost per packet and per operation, pod IP versus ClusterIP: the
 * kernel's own accounting (`kernel.bpf_stats_enabled`: run time and run count per program) around
 * client runs that each use one target only. The setting is machine-wide and adds a little to every
 * program run, so it is switched on only for these runs and restored right after.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';
import { runClient, type LoadMode } from './loadgen.ts';

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/** The client's uncounted warm-up (loadgen.c's WARMUP_S): its packets run the programs too. */
const WARMUP_S = 0.2;

/** BPF cost of one client run against one target. */
export interface BpfCost {
  mode: LoadMode;
  /** The target's label, e.g. "ClusterIP". */
  via: string;
  /** Operations, including an estimate of the warm-up's, which the program counts include. */
  ops: number;
  /** Program runs (both directions, both pods' veths) and their total time. */
  runs: number;
  ns: number;
}

/** Reads the statistics setting now; the returned function puts it back (for a teardown on signals). */
export function bpfStatsRestorer(): () => void {
  const was = readFileSync(BPF_STATS, 'utf8').trim();
  return () => writeFileSync(BPF_STATS, was);
}

/** The program ids behind every endpoint's pinned tcx links (`<pinRoot>/links/<id>/{ingress,egress}`). */
async function endpointProgIds(pinRoot: string): Promise<number[]> {
  const ids: number[] = [];
  for (const ep of readdirSync(join(pinRoot, 'links')).filter((d) => /^\d+$/.test(d))) { // endpoints only, not netdev/ or sock/
    for (const dir of ['ingress', 'egress']) {
      const out = await run('bpftool', ['-j', 'link', 'show', 'pinned', join(pinRoot, 'links', ep, dir)]);
      ids.push((JSON.parse(out) as { prog_id: number }).prog_id);
    }
  }
  return ids;
}

async function runtime(ids: number[]): Promise<{ ns: number; runs: number }> {
  let ns = 0, runs = 0;
  for (const id of ids) {
    const p = JSON.parse(await run('bpftool', ['-j', 'prog', 'show', 'id', String(id)])) as { run_time_ns?: number; run_cnt?: number };
    ns += p.run_time_ns ?? 0;
    runs += p.run_cnt ?? 0;
  }
  return { ns, runs };
}

/** Runs CRR and RR for `seconds` against each target alone with BPF statistics on; returns the costs. */
export async function measureBpfCost(opts: {
  bin: string; clientCpu: number; netnsPath: string; cgroupProcs?: string; pinRoot: string; targets: Record<string, string>; seconds: number;
}): Promise<BpfCost[]> {
  const ids = await endpointProgIds(opts.pinRoot);
  const restore = bpfStatsRestorer();
  writeFileSync(BPF_STATS, '1');
  const out: BpfCost[] = [];
  try {
    for (const mode of ['crr', 'rr'] as const) {
      for (const [via, target] of Object.entries(opts.targets)) {
        const before = await runtime(ids);
        const r = await runClient(opts.bin, opts.netnsPath, opts.clientCpu, mode, [target], opts.seconds, opts.cgroupProcs);
        const after = await runtime(ids);
        const ops = r.targets[0]!.ops * (opts.seconds + WARMUP_S) / opts.seconds;
        out.push({ mode, via, ops, runs: after.runs - before.runs, ns: after.ns - before.ns });
      }
    }
  } finally {
    restore();
  }
  return out;
}
