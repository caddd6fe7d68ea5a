/**
 * The connection-rate generator both CRR benches drive (bench/datapath/crr.c: netperf's TCP_CRR
 * transaction, one byte each way then close): compiled once per run, its server and client run
 * inside a network namespace pinned to a core each.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Compiles the generator into `dir`; returns the binary's path. */
export function buildGenerator(dir: string): string {
  const bin = join(dir, 'crr');
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, join(import.meta.dirname, 'crr.c')]);
  return bin;
}

/** Starts the generator's server on `ip`:`port` in the namespace at `netnsPath`, on `core` (default 1). */
export function spawnCrrServer(bin: string, netnsPath: string, ip: string, port: number, core = 1): ChildProcess {
  return spawn('nsenter', [`--net=${netnsPath}`, 'taskset', '-c', String(core), bin, 'server', ip, String(port)], { stdio: 'ignore' });
}

/** Runs the generator's client from the namespace at `netnsPath` for `seconds` on core 0; transactions per second. */
export function runCrrClient(bin: string, netnsPath: string, ip: string, port: number, seconds: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const c = spawn('nsenter', [`--net=${netnsPath}`, 'taskset', '-c', '0', bin, 'client', ip, String(port), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    c.stdout!.on('data', (d: Buffer) => { text += d.toString(); });
    c.on('exit', (code) => (code === 0 ? resolve(Number(text.trim().split(' ')[0])) : reject(new Error(`crr client exited ${code}`))));
  });
}
