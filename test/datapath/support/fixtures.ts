// Compiles test-only BPF fixtures (test/datapath/fixtures/*.bpf.c) into a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
let out: string | undefined;

/** Path of the compiled fixture object (compiled once per process; the folder goes when the process exits). */
export function compileFixture(name: string): string {
  if (!out) {
    const dir = mkdtempSync(join(tmpdir(), 'ciliate-bpf-'));
    out = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const obj = join(out, `${name}.o`);
  execFileSync('clang', ['-target', 'bpf', '-O2', '-g', `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '-c', join(DIR, `${name}.bpf.c`), '-o', obj]);
  return obj;
}
