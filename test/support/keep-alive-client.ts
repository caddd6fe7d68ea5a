/**
 * One HTTP keep-alive connection from a pod's network namespace, driven by the test: a request is
 * sent when the connection opens and again on each `ask()`; each answer is recorded as its status
 * code and the connection's local port (so a test can tell the connection stayed the same).
 */
import { spawn } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The connection as the test drives it. */
export interface KeepAliveClient {
  /** One line per answer: `<status> <local port>`. */
  readonly lines: string[];
  /** Resolves once the first answer came (or after 5 s). */
  first(): Promise<string | undefined>;
  /** Asks again until an answer starts with `code` (a policy change reached the proxy): that answer, or the last one. */
  askUntil(code: string): Promise<string>;
  close(): void;
}

/** Opens the connection to `ip`:`port` from the namespace `netns`, sending `request` (raw HTTP/1.1). */
export function keepAliveClient(netns: string, ip: string, port: number, request: string): KeepAliveClient {
  const script = `
    const s = require('node:net').connect(${port}, '${ip}');
    const ask = () => s.write(${JSON.stringify(request)});
    s.on('connect', ask);
    s.on('data', (d) => console.log(String(d).slice(9, 12) + ' ' + s.localPort));
    process.stdin.on('data', ask);
    process.stdin.on('end', () => s.end());`;
  const child = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  child.stdout.on('data', (d) => lines.push(...String(d).trim().split('\n')));
  return {
    lines,
    async first() {
      for (let i = 0; i < 50 && lines.length === 0; i++) await sleep(100);
      return lines[0];
    },
    async askUntil(code) {
      for (let i = 0; i < 60 && !(lines.at(-1) ?? '').startsWith(code); i++) {
        const had = lines.length;
        child.stdin.write('next\n');
        for (let j = 0; j < 30 && lines.length === had; j++) await sleep(100);
        if (!(lines.at(-1) ?? '').startsWith(code)) await sleep(400);
      }
      return lines.at(-1) ?? '';
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}
