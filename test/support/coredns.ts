/**
 * CoreDNS (the toolchain's build) as a test's DNS server, in a network namespace the test made:
 * answers `hosts` (address → name) with `ttl` on `ip`:53, until stopped.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { DnsType, decodeDnsMessage, encodeDnsMessage, type DnsMessage } from '../../envoy/dns/message.ts';

/** A running CoreDNS. */
export interface TestCoreDns {
  stop(): void;
}

/** The CoreDNS binary's folder, or undefined when the toolchain has not built it. */
export function coreDnsBuilt(): Promise<string | undefined> {
  return builtToolchain('coredns');
}

/** Starts CoreDNS in network namespace `ns` bound to `ip`:53. */
export function startCoreDns(binDir: string, ns: string, ip: string, hosts: Record<string, string>, ttl: number): TestCoreDns {
  const dir = mkdtempSync(join(tmpdir(), 'ciliate-coredns-'));
  const entries = Object.entries(hosts).map(([addr, name]) => `    ${addr} ${name}`).join('\n');
  writeFileSync(join(dir, 'Corefile'), `.:53 {\n  bind ${ip}\n  hosts {\n${entries}\n    ttl ${ttl}\n  }\n}\n`);
  // nsenter execs CoreDNS itself: killing the child kills the server.
  const proc = spawn('nsenter', [`--net=/run/netns/${ns}`, join(binDir, 'coredns'), '-conf', join(dir, 'Corefile')], { stdio: 'ignore' });
  return {
    stop() {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An A query for `name` (recursion desired). */
export function aQuery(name: string, id: number): Buffer {
  return encodeDnsMessage({ id, rd: true, questions: [{ name, type: DnsType.A, class: 1 }] });
}

/** Sends `msg` over UDP from `source` (any when empty) and resolves with the answer. */
export function askUdp(to: { address: string; port: number }, msg: Buffer, source = '', timeoutMs = 3000): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${to.address}:${to.port}`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(decodeDnsMessage(m));
    });
    s.bind(0, source || undefined, () => s.send(msg, to.port, to.address));
  });
}

/** Waits until the server at `ip`:53 answers (CoreDNS takes a moment to bind). */
export async function waitForDns(ip: string, name: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await askUdp({ address: ip, port: 53 }, aQuery(name, 1), '', 300);
      return;
    } catch (err) {
      if (i > 40) throw err;
    }
  }
}
