// Takes a V8 CPU profile of a running Node process through its inspector (opened with SIGUSR1 by
// the caller) on 127.0.0.1:9229 of the current network namespace, for `seconds`; writes the
// .cpuprofile (Chrome DevTools format) and prints the top self-time functions.
// Run: npx tsx bench/datapath/cpu-profile.ts <seconds> <out.cpuprofile>
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The part of the `ws` client used here (the package has no types of its own). */
interface Ws {
  once(event: 'open' | 'error', f: (v: unknown) => void): void;
  on(event: 'message', f: (data: Buffer) => void): void;
  send(text: string): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => Ws;

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples?: number[]; startTime: number; endTime: number }

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5), out = process.argv[3] ?? 'agent.cpuprofile';
  let list: Array<{ webSocketDebuggerUrl: string }> = [];
  for (let i = 0; i < 50 && list.length === 0; i++) {
    try {
      list = await (await fetch('http://127.0.0.1:9229/json/list')).json() as typeof list;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (!list[0]) throw new Error('no inspector on 127.0.0.1:9229');
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString()) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const call = (method: string, params: object = {}) => new Promise<unknown>((r) => {
    pending.set(++id, r);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 100 });
  await call('Profiler.start');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await call('Profiler.stop') as { profile: Profile };
  await call('Profiler.disable');
  ws.close();
  writeFileSync(out, JSON.stringify(profile));
  const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 40);
  for (const [k, v] of top) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}

await main();
