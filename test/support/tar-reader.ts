/** Reads tar archives back (ustar with PAX path/linkpath records) so tests can check what was written. */

/** One archive member as read back. */
export interface TarMember {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string;
  content: Buffer;
}

/** The members of `archive`, in order; throws on a bad header checksum or a missing end marker. */
export function readTar(archive: Buffer): TarMember[] {
  const members: TarMember[] = [];
  let pax: Record<string, string> = {};
  for (let off = 0; ; ) {
    if (off + 512 > archive.length) throw new Error('tar archive ends without its two zero blocks');
    const h = archive.subarray(off, off + 512);
    if (h.every((b) => b === 0)) return members;
    checkChecksum(h, off);
    const size = octal(h, 124, 12);
    const content = archive.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    const flag = String.fromCharCode(h[156]!);
    if (flag === 'x') {
      pax = parsePax(content);
      continue;
    }
    const prefix = str(h, 345, 155);
    const name = str(h, 0, 100);
    const path = pax.path ?? (prefix ? `${prefix}/${name}` : name);
    members.push({
      path,
      type: flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : 'other',
      mode: octal(h, 100, 8),
      uid: octal(h, 108, 8),
      gid: octal(h, 116, 8),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      mtime: octal(h, 136, 12),
      linkname: pax.linkpath ?? str(h, 157, 100),
      content: Buffer.from(content),
    });
    pax = {};
  }
}

function checkChecksum(h: Buffer, off: number): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  if (sum !== octal(h, 148, 8)) throw new Error(`tar header at ${off}: checksum mismatch`);
}

function parsePax(content: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < content.length; ) {
    const space = content.indexOf(0x20, i);
    const len = Number(content.subarray(i, space).toString());
    const record = content.subarray(space + 1, i + len - 1).toString();
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

function str(h: Buffer, off: number, len: number): string {
  const field = h.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString();
}

function octal(h: Buffer, off: number, len: number): number {
  const s = str(h, off, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}
