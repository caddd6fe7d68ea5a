/**
 * Writes tar archives deterministically: entries in the order given, every owner root (0:0), every
 * mtime 0, ustar headers with a PAX extended header only for paths or link targets too long for ustar.
 * The same entries always give the same bytes.
 */

/** One member of a tar archive. Paths are relative, without a leading "./" or "/". */
export type TarEntry =
  | { type: 'file'; path: string; mode: number; content: Buffer }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string };

const BLOCK = 512;
const TYPE_FLAG = { file: '0', symlink: '2', dir: '5', pax: 'x' } as const;

/** The archive of `entries` as a list of buffers (file contents are not copied), with its end marker. */
export function tarChunks(entries: Iterable<TarEntry>): Buffer[] {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const target = e.type === 'symlink' ? e.target : '';
    const split = splitUstarName(name);
    if (!split || Buffer.byteLength(target) > 100) {
      const records: [string, string][] = [];
      if (!split) records.push(['path', name]);
      if (Buffer.byteLength(target) > 100) records.push(['linkpath', target]);
      const pax = paxRecords(records);
      chunks.push(header({ name: 'PaxHeader', mode: 0o644, size: pax.length, type: TYPE_FLAG.pax, target: '' }), ...padded(pax));
    }
    const fields = { ...(split ?? { name: name.slice(0, 100), prefix: '' }), target: target.slice(0, 100) };
    if (e.type === 'file') {
      chunks.push(header({ ...fields, mode: e.mode, size: e.content.length, type: TYPE_FLAG.file }), ...padded(e.content));
    } else {
      chunks.push(header({ ...fields, mode: e.type === 'dir' ? e.mode : 0o777, size: 0, type: TYPE_FLAG[e.type] }));
    }
  }
  chunks.push(Buffer.alloc(2 * BLOCK));
  return chunks;
}

/** The ustar name and prefix fields of `path`, or undefined when it does not fit them. */
function splitUstarName(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  return undefined;
}

/** PAX records "<len> <key>=<value>\n", where len counts the whole record including itself. */
function paxRecords(records: [string, string][]): Buffer {
  const lines = records.map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(body);
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    return `${len}${body}`;
  });
  return Buffer.from(lines.join(''));
}

function padded(content: Buffer): Buffer[] {
  const rest = content.length % BLOCK;
  return rest === 0 ? [content] : [content, Buffer.alloc(BLOCK - rest)];
}

interface HeaderFields {
  name: string;
  prefix?: string;
  mode: number;
  size: number;
  type: string;
  target: string;
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(f.name, 0, 100, 'utf8');
  writeOctal(h, 100, 8, f.mode & 0o7777);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, f.size);
  writeOctal(h, 136, 12, 0);
  h.fill(' ', 148, 156);
  h.write(f.type, 156, 1, 'ascii');
  h.write(f.target, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  h.write(f.prefix ?? '', 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** A NUL-terminated, zero-padded octal number filling `width` bytes at `offset`. */
function writeOctal(h: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar header field at ${offset} cannot hold ${value}`);
  h.write(`${digits.padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}
