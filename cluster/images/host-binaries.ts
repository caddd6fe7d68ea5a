/** Programs taken from this machine for an image: static ones as they are, dynamic ones with their libraries. */
import { closeSync, openSync, readSync } from 'node:fs';
import { run } from '../../runtime/exec.ts';
import type { Rootfs } from './rootfs.ts';

const PT_INTERP = 3;

/** Whether `path` is an ELF executable without a program interpreter (statically linked). */
export function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new Error(`${path} is not a 64-bit ELF file`);
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** The shared libraries `path` loads, its dynamic loader included, as ldd resolves them on this machine. */
export async function sharedLibraries(path: string): Promise<string[]> {
  const out = await run('ldd', [path]);
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    if (/not found/.test(line)) throw new Error(`${path} needs a library this machine lacks: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

/**
 * Adds the machine's dynamically linked program `hostPath` at `imagePath` with every shared library
 * it loads, each at the path ldd names (so the image's dynamic loader finds it in its default folders).
 * Libraries already in the image are kept.
 */
export async function addDynamicProgram(rootfs: Rootfs, imagePath: string, hostPath: string): Promise<void> {
  rootfs.hostFile(imagePath, hostPath);
  for (const lib of await sharedLibraries(hostPath)) {
    if (!rootfs.has(lib)) rootfs.hostFile(lib, lib);
  }
}
