/**
 * The services bench's printed results: rates per datapath and Service count (medians) with the
 * ClusterIP/pod-IP ratio (median over samples, each sample measuring both at the same moment), how
 * each rate moved from 1 to N Services (raw, and relative to the loopback reference measured in the
 * same samples, which takes the machine's changing load out), the goal lines, and where the time
 * went (latency, CPU per operation of client and server, the agent's or kube-proxy's CPU).
 */
import { median } from '../datapath/tools.ts';
import type { LoadMode } from './loadgen.ts';
import type { DatapathSamples, Sample, Via } from './measure.ts';
import type { BpfCost } from './bpf-cost.ts';

/** The results of one Service count. */
export interface Phase {
  services: number;
  results: Map<string, DatapathSamples>;
}

/** The goal: ClusterIP at least this fraction of the pod IP rate... */
export const GOAL_RATIO = 0.95;
/** ...and within this fraction of its 1-Service rate at N Services. */
export const FLAT_TOLERANCE = 0.05;

const MODES: LoadMode[] = ['crr', 'rr'];
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const x2 = (x: number) => `${x.toFixed(2)}x`;

function samples(phase: Phase, datapath: string, mode: LoadMode): Sample[] {
  return phase.results.get(datapath)?.[mode] ?? [];
}

/** Median rate of a target. */
function rate(phase: Phase, datapath: string, mode: LoadMode, via: Via): number {
  return median(samples(phase, datapath, mode).map((s) => s.via[via].rate));
}

/** Per-sample ratios of two targets' rates (both measured in the same client run). */
function ratios(phase: Phase, datapath: string, mode: LoadMode, num: Via, den: Via): number[] {
  return samples(phase, datapath, mode).map((s) => s.via[num].rate / s.via[den].rate);
}

function table(rows: string[][]): string {
  return rows.map((r, i) => `| ${r.join(' | ')} |${i === 0 ? `\n|${r.map(() => '---').join('|')}|` : ''}`).join('\n');
}

/** The rates table: per datapath and Service count, pod IP vs ClusterIP for CRR and RR. */
export function ratesTable(phases: Phase[], datapaths: string[]): string {
  const rows = [['datapath', 'Services', 'CRR conn/s pod IP', 'CRR conn/s ClusterIP', 'ClusterIP/pod IP', 'RR trans/s pod IP', 'RR trans/s ClusterIP', 'ClusterIP/pod IP']];
  for (const d of datapaths) {
    for (const p of phases) {
      rows.push([d, int(p.services), ...MODES.flatMap((m) => [
        int(rate(p, d, m, 'pod IP')), int(rate(p, d, m, 'ClusterIP')), x2(median(ratios(p, d, m, 'ClusterIP', 'pod IP'))),
      ])]);
    }
  }
  return table(rows);
}

/** Rate at the last count over the first: raw, and each relative to the loopback of its own samples. */
function change(phases: Phase[], d: string, m: LoadMode, via: Via): { raw: number; relative: number } {
  const first = phases[0]!, last = phases.at(-1)!;
  const rel = (p: Phase) => median(ratios(p, d, m, via, 'loopback'));
  return { raw: rate(last, d, m, via) / rate(first, d, m, via), relative: rel(last) / rel(first) };
}

/** How each rate at the last Service count compares with the first. */
export function flatnessTable(phases: Phase[], datapaths: string[]): string {
  const head = `${int(phases.at(-1)!.services)} vs ${int(phases[0]!.services)} Services`;
  const rows = [['datapath', `CRR pod IP, ${head}`, 'CRR ClusterIP', 'RR pod IP', 'RR ClusterIP']];
  for (const d of datapaths) {
    rows.push([d, ...MODES.flatMap((m) => (['pod IP', 'ClusterIP'] as const).map((v) => {
      const c = change(phases, d, m, v);
      return `${x2(c.relative)} (raw ${x2(c.raw)})`;
    }))]);
  }
  return table(rows);
}

/** One line per datapath: is ClusterIP >= 0.95x of pod IP at every count, and flat from first to last count? */
export function goalLines(phases: Phase[], datapaths: string[]): string[] {
  const first = phases[0]!, last = phases.at(-1)!;
  return datapaths.map((d) => {
    const rs = phases.flatMap((p) => MODES.map((m) => median(ratios(p, d, m, 'ClusterIP', 'pod IP'))));
    const flat = MODES.map((m) => change(phases, d, m, 'ClusterIP').relative);
    const ratioOk = rs.every((r) => r >= GOAL_RATIO);
    const flatOk = flat.every((f) => f >= 1 - FLAT_TOLERANCE);
    return `${d}: ClusterIP >= ${GOAL_RATIO}x of pod IP at every count: ${ratioOk ? 'met' : 'NOT met'} (worst ${x2(Math.min(...rs))}); ` +
      `ClusterIP flat from ${int(first.services)} to ${int(last.services)} Services (no more than ${FLAT_TOLERANCE * 100}% lower, relative to loopback): ` +
      `${flatOk ? 'met' : 'NOT met'} (CRR ${x2(flat[0]!)}, RR ${x2(flat[1]!)})`;
  });
}

/** Latency, the spread of the ratio, and CPU per operation of every datapath, mode and Service count. */
export function timeTable(phases: Phase[], datapaths: string[]): string {
  const rows = [['datapath', 'Services', 'mode', 'p50 us pod IP / ClusterIP', 'p99 us pod IP / ClusterIP', 'ClusterIP/pod IP min-max',
    'loopback /s', 'client CPU us/op', 'server CPU us/op', 'agent or kube-proxy CPU %']];
  for (const d of datapaths) {
    for (const p of phases) {
      for (const m of MODES) {
        const ss = samples(p, d, m);
        const both = (f: (s: Sample, v: Via) => number) => `${median(ss.map((s) => f(s, 'pod IP')))} / ${median(ss.map((s) => f(s, 'ClusterIP')))}`;
        const r = ratios(p, d, m, 'ClusterIP', 'pod IP');
        const ops = (s: Sample, vias: Via[]) => vias.reduce((n, v) => n + s.via[v].ops, 0);
        const control = ss.map((s) => (s.cpu.agent ?? s.cpu['kube-proxy'] ?? NaN) / s.seconds).filter(Number.isFinite);
        const server = ss.map((s) => (s.cpu.server ?? NaN) / ops(s, ['pod IP', 'ClusterIP']) * 1e6).filter(Number.isFinite);
        rows.push([d, int(p.services), m.toUpperCase(), both((s, v) => s.via[v].p50_us), both((s, v) => s.via[v].p99_us),
          `${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}`, int(rate(p, d, m, 'loopback')),
          median(ss.map((s) => s.clientCpu / ops(s, ['pod IP', 'ClusterIP', 'loopback']) * 1e6)).toFixed(1),
          server.length ? median(server).toFixed(1) : '-',
          control.length ? (median(control) * 100).toFixed(0) : '-']);
      }
    }
  }
  return table(rows);
}

/** Ciliate's program cost per run and per operation, per Service count, mode and target. */
export function bpfTable(costs: Array<{ services: number; costs: BpfCost[] }>): string {
  const rows = [['Services', 'mode', 'via', 'ns per program run', 'program runs per op', 'BPF ns per op']];
  for (const c of costs) {
    for (const k of c.costs) {
      rows.push([int(c.services), k.mode.toUpperCase(), k.via, int(k.ns / k.runs), (k.runs / k.ops).toFixed(1), int(k.ns / k.ops)]);
    }
  }
  return table(rows);
}
