/**
 * CNI plugin start-up benchmark (run on demand: `npx tsx bench/cni/startup.ts`): wall time of one
 * plugin call, spawn to exit, against a fake agent that answers at once. STATUS takes the relay's
 * fast path; VERSION is what the relay hands to the TypeScript plugin. BENCH_SAMPLES calls each
 * (default 20), interleaved, after a warm-up; prints medians and p90.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveCni } from '../../agent/cni-server.ts';
import { pct } from '../support/stats.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const WARMUP = 3;

const dir = mkdtempSync(join(tmpdir(), 'cni-bench-'));
const socket = join(dir, 'agent.sock');
const server = await serveCni(socket, async () => ({ ok: true }));
const config = JSON.stringify({ cniVersion: '1.1.0', name: 'bench', type: 'ciliate-cni', socket, mtu: 1500 });

/** The variants: a name, the command, and CNI_COMMAND. */
const variants: [string, string[], string][] = [
  ['STATUS  node bundle (node build/ciliate-cni.mjs)', [process.execPath, join(ROOT, 'build', 'ciliate-cni.mjs')], 'STATUS'],
  ['STATUS  bin/ciliate-cni (bash, then the bundle)', [join(ROOT, 'bin', 'ciliate-cni')], 'STATUS'],
  ['STATUS  native relay build/cni/ciliate-cni', [join(ROOT, 'build', 'cni', 'ciliate-cni')], 'STATUS'],
  ['VERSION native relay (falls back to bin/ciliate-cni)', [join(ROOT, 'build', 'cni', 'ciliate-cni')], 'VERSION'],
];

/** Milliseconds from spawning `cmd` to its exit; throws unless it exits 0. */
function timeOne(cmd: string[], command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd[0]!, cmd.slice(1), { env: { PATH: process.env.PATH, CNI_COMMAND: command }, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd.join(' ')} ${command} exited ${code}`));
    });
    child.stdin.end(config);
  });
}

const times = variants.map(() => [] as number[]);
for (let i = 0; i < WARMUP + SAMPLES; i++) {
  for (const [v, [, cmd, command]] of variants.entries()) {
    const ms = await timeOne(cmd, command);
    if (i >= WARMUP) times[v]!.push(ms);
  }
}
server.close();
rmSync(dir, { recursive: true, force: true });
for (const [v, [name]] of variants.entries()) {
  console.log(`${name.padEnd(54)} median ${pct(times[v]!, 50).toFixed(1).padStart(6)} ms  p90 ${pct(times[v]!, 90).toFixed(1).padStart(6)} ms  (n=${SAMPLES})`);
}
