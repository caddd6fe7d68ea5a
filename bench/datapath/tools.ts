// Traffic generators for the datapath bench: iperf3 TCP throughput and sockperf TCP ping-pong,
// run asynchronously so the event reader keeps draining while they run; and the benches' bulk map rows.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { policyEntries } from '../../datapath/maps/policy.ts';

const run = promisify(execFile);

/** TCP throughput from client namespace to server ip, in Gbit/s. */
export async function tcpThroughput(clientNs: string, ip: string, seconds: number): Promise<number> {
  const { stdout } = await run('nsenter', [`--net=/run/netns/${clientNs}`, 'taskset', '-c', '0',
    'iperf3', '-c', ip, '-p', '5201', '-t', String(seconds), '-J'], { maxBuffer: 1 << 24 });
  const j = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

/** TCP request/response transactions per second (sockperf ping-pong). */
export async function requestResponse(clientNs: string, ip: string, seconds: number): Promise<number> {
  const { stdout, stderr } = await run('nsenter', [`--net=/run/netns/${clientNs}`, 'taskset', '-c', '0',
    'sockperf', 'ping-pong', '--tcp', '-i', ip, '-p', '11111', '-t', String(seconds)], { maxBuffer: 1 << 24 });
  const text = stdout + stderr;
  const m = /RunTime=([\d.]+) sec; Warm up time=\d+ msec; SentMessages=\d+; ReceivedMessages=(\d+)/.exec(text);
  if (!m) throw new Error(`unexpected sockperf output: ${text.slice(-400)}`);
  return Number(m[2]) / Number(m[1]);
}

/** Median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `n` /32 ipcache rows outside the benches' pod addresses (10.100.0.0 on), identities from 20000. */
export function scaleIpcache(n: number): ReturnType<typeof ipcacheEntry>[] {
  const ips = [];
  for (let i = 0; i < n; i++) ips.push(ipcacheEntry(`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, 20000 + (i % 50000)));
  return ips;
}

/** `n` ingress TCP allow rules for identities from 20000, entry ids from `firstEntryId`. */
export function scalePolicy(n: number, firstEntryId: number): ReturnType<typeof policyEntries> {
  const rules = [];
  for (let i = 0; i < n; i++) rules.push(...policyEntries({ direction: 'ingress', identity: 20000 + i, protocol: 6, port: 1000 + (i % 5000), entryId: firstEntryId + (i % 16000) }));
  return rules;
}
