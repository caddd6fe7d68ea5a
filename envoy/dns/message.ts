/**
 * DNS messages (RFC 1035): decoding of any message a client or server sends (compressed names,
 * every record type, A/AAAA/CNAME data read out), and encoding of the messages the proxy makes
 * itself (REFUSED answers; test servers' answers), without name compression.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatPrefix, parseIP } from '../../identity/cidr.ts';

/** Record types the proxy names (others keep their number). */
export const DnsType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;

/** Response codes the proxy names. */
export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(DnsType).map(([k, v]) => [v, k]));

/** A record type's name as upstream's flows print it (`A`, `AAAA`, ...; `TYPE<n>` when unnamed). */
export function dnsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** One question. Names are absolute with a trailing dot, in the case the sender used. */
export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/** One resource record; `address` for A/AAAA, `target` for CNAME, `data` always (raw RDATA). */
export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: Uint8Array;
  readonly address?: string;
  readonly target?: string;
}

/** A DNS message. */
export interface DnsMessage {
  readonly id: number;
  /** True for a response. */
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

/** A message that is not valid DNS; `field` names the part that failed. */
export class DnsFormatError extends Error {
  constructor(readonly field: string, message: string) {
    super(`DNS ${field}: ${message}`);
  }
}

const HEADER_LENGTH = 12;
const MAX_NAME_LENGTH = 255;
const MAX_LABEL_LENGTH = 63;
/** Compression pointers followed in one name before it is called a loop. */
const MAX_POINTERS = 64;

class Reader {
  offset = HEADER_LENGTH;

  constructor(readonly buf: Buffer) {}

  need(n: number, field: string): void {
    if (this.offset + n > this.buf.length) throw new DnsFormatError(field, `truncated at byte ${this.offset}`);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A possibly compressed name starting at `at` (default: here); moves past it when read here. */
  name(field: string, at?: number): string {
    const labels: string[] = [];
    let pos = at ?? this.offset;
    let end: number | undefined;
    let length = 1;
    for (let jumps = 0; ; ) {
      if (pos >= this.buf.length) throw new DnsFormatError(field, `name runs past the message at byte ${pos}`);
      const len = this.buf[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsFormatError(field, 'truncated compression pointer');
        if (++jumps > MAX_POINTERS) throw new DnsFormatError(field, 'compression pointer loop');
        end ??= pos + 2;
        pos = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        continue;
      }
      if (len & 0xc0) throw new DnsFormatError(field, `reserved label type 0x${len.toString(16)}`);
      if (len === 0) {
        end ??= pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new DnsFormatError(field, 'label runs past the message');
      length += len + 1;
      if (length > MAX_NAME_LENGTH) throw new DnsFormatError(field, `name longer than ${MAX_NAME_LENGTH} bytes`);
      labels.push(this.buf.toString('latin1', pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
    if (at === undefined) this.offset = end;
    return labels.length === 0 ? '.' : `${labels.join('.')}.`;
  }

  question(field: string): DnsQuestion {
    return { name: this.name(`${field}.name`), type: this.u16(`${field}.type`), class: this.u16(`${field}.class`) };
  }

  record(field: string): DnsRecord {
    const name = this.name(`${field}.name`);
    const type = this.u16(`${field}.type`);
    const cls = this.u16(`${field}.class`);
    const ttl = this.u32(`${field}.ttl`);
    const rdlength = this.u16(`${field}.rdlength`);
    this.need(rdlength, `${field}.rdata`);
    const start = this.offset;
    const data = this.buf.subarray(start, start + rdlength);
    this.offset += rdlength;
    const rec = { name, type, class: cls, ttl, data };
    if (type === DnsType.A && rdlength === 4) return { ...rec, address: [...data].join('.') };
    if (type === DnsType.AAAA && rdlength === 16) return { ...rec, address: ipv6Text(data) };
    if (type === DnsType.CNAME) return { ...rec, target: this.name(`${field}.cname`, start) };
    return rec;
  }
}

/** Canonical text of 16 address bytes. */
function ipv6Text(b: Uint8Array): string {
  const bits = [...b].reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  return formatPrefix({ family: 6, bits, length: 128 }).slice(0, -'/128'.length);
}

/** Decodes a message; throws {@link DnsFormatError} naming the field that is malformed. */
export function decodeDnsMessage(buf: Buffer): DnsMessage {
  if (buf.length < HEADER_LENGTH) throw new DnsFormatError('header', `${buf.length} bytes, need ${HEADER_LENGTH}`);
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  const r = new Reader(buf);
  const section = <T>(n: number, name: string, read: (field: string) => T): T[] => Array.from({ length: n }, (_, i) => read(`${name}[${i}]`));
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions: section(counts[0], 'question', (f) => r.question(f)),
    answers: section(counts[1], 'answer', (f) => r.record(f)),
    authorities: section(counts[2], 'authority', (f) => r.record(f)),
    additionals: section(counts[3], 'additional', (f) => r.record(f)),
  };
}

/** The message id of a buffer, or undefined when it has no header. */
export function dnsMessageId(buf: Buffer): number | undefined {
  return buf.length >= 2 ? buf.readUInt16BE(0) : undefined;
}

function encodeName(name: string, field: string): Buffer {
  const trimmed = name === '.' ? '' : name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  for (const label of trimmed === '' ? [] : trimmed.split('.')) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > MAX_LABEL_LENGTH) throw new DnsFormatError(field, `label ${JSON.stringify(label)} must be 1-${MAX_LABEL_LENGTH} bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > MAX_NAME_LENGTH) throw new DnsFormatError(field, `name longer than ${MAX_NAME_LENGTH} bytes`);
  return out;
}

function rdataOf(rec: Partial<DnsRecord> & { type: number }, field: string): Uint8Array {
  if (rec.address !== undefined) {
    if (rec.type === DnsType.A && isIPv4(rec.address)) return Buffer.from(rec.address.split('.').map(Number));
    if (rec.type === DnsType.AAAA && isIPv6(rec.address)) return ipv6Bytes(rec.address);
    throw new DnsFormatError(`${field}.address`, `${JSON.stringify(rec.address)} is not an address of type ${dnsTypeName(rec.type)}`);
  }
  if (rec.target !== undefined) return encodeName(rec.target, `${field}.target`);
  return rec.data ?? new Uint8Array();
}

function ipv6Bytes(text: string): Buffer {
  const bits = parseIP(text)!.bits;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = Number((bits >> BigInt((15 - i) * 8)) & 0xffn);
  return out;
}

/** What {@link encodeDnsMessage} takes: flags default to false/0, sections to empty. */
export type DnsMessageInit = Partial<Omit<DnsMessage, 'answers' | 'authorities' | 'additionals'>> & {
  readonly answers?: readonly (Partial<DnsRecord> & { name: string; type: number; ttl: number })[];
  readonly authorities?: readonly DnsRecord[];
  readonly additionals?: readonly DnsRecord[];
};

/** Encodes a message (no name compression); records take their data from `address`/`target` when set. */
export function encodeDnsMessage(m: DnsMessageInit): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  const questions = m.questions ?? [];
  const sections = [m.answers ?? [], m.authorities ?? [], m.additionals ?? []] as const;
  header.writeUInt16BE(m.id ?? 0, 0);
  const flags = (m.qr ? 0x8000 : 0) | ((m.opcode ?? 0) & 0xf) << 11 | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0)
    | (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | ((m.rcode ?? 0) & 0xf);
  header.writeUInt16BE(flags, 2);
  [questions.length, ...sections.map((s) => s.length)].forEach((n, i) => header.writeUInt16BE(n, 4 + i * 2));
  const parts: Buffer[] = [header];
  questions.forEach((q, i) => {
    const fixed = Buffer.alloc(4);
    fixed.writeUInt16BE(q.type, 0);
    fixed.writeUInt16BE(q.class, 2);
    parts.push(encodeName(q.name, `question[${i}].name`), fixed);
  });
  sections.forEach((records, s) => records.forEach((rec, i) => {
    const field = `${['answer', 'authority', 'additional'][s]}[${i}]`;
    const data = rdataOf(rec, field);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(rec.type, 0);
    fixed.writeUInt16BE(rec.class ?? 1, 2);
    fixed.writeUInt32BE(rec.ttl >>> 0, 4);
    fixed.writeUInt16BE(data.length, 8);
    parts.push(encodeName(rec.name, `${field}.name`), fixed, Buffer.from(data));
  }));
  return Buffer.concat(parts);
}

/** The answer to `query` with `rcode` and no records (the proxy's REFUSED). */
export function rcodeResponse(query: DnsMessage, rcode: number): Buffer {
  return encodeDnsMessage({ id: query.id, qr: true, opcode: query.opcode, rd: query.rd, ra: true, rcode, questions: query.questions });
}
