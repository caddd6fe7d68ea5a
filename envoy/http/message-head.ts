/**
 * HTTP/1.x message heads as the proxy reads them from raw bytes: a request line or status line and
 * its header fields, checked (a malformed head is refused with 400, an oversized one with 431), and
 * what the head says about the message that follows it (its body's framing, whether the
 * connection stays open). The head's bytes are kept, so an unchanged request is forwarded exactly
 * as it arrived.
 */
import type { BodyFraming } from './body-framing.ts';

/** Longest head accepted, request line or status line and headers (Node's default limit). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A head that cannot be accepted, with the status the client gets for it. */
export class HeadError extends Error {
  constructor(readonly status: 400 | 431, message: string) {
    super(message);
  }
}

/** What request and response heads share. */
interface MessageHead {
  /** The minor version: HTTP/1.0 or HTTP/1.1. */
  readonly minor: 0 | 1;
  /** The header fields as received, name, value, name, value, ... */
  readonly rawHeaders: string[];
  /** How the body after the head ends. */
  readonly framing: BodyFraming;
  /** Whether the connection may carry another message after this one. */
  readonly keepAlive: boolean;
}

/** A request head. */
export interface RequestHead extends MessageHead {
  readonly method: string;
  /** The request target, as sent (origin form: the path with its query). */
  readonly target: string;
  /** `Expect: 100-continue`. */
  readonly expectContinue: boolean;
  /** The client asks to switch protocols (`Connection: upgrade` and `Upgrade`). */
  readonly upgrade: boolean;
}

/** A response head. */
export interface ResponseHead extends MessageHead {
  readonly status: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values: visible characters, spaces, tabs and obs-text; no other control characters.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e\x80-\xff]+) HTTP\/1\.([01])$/;
// eslint-disable-next-line no-control-regex -- a reason phrase without control characters
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;

/**
 * Where the head starting at `from` ends (the index after its empty line), -1 while incomplete;
 * throws 431 when `buf` already holds more than a head may be without its end, 400 for a line
 * that ends without CR (its head would never end).
 */
export function headEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (i >= 0) {
    if (i + 4 - from > MAX_HEAD_BYTES) throw new HeadError(431, 'message head too large');
    return i + 4;
  }
  if (buf.length - from > MAX_HEAD_BYTES) throw new HeadError(431, 'message head too large');
  for (let lf = buf.indexOf(0x0a, from); lf >= 0; lf = buf.indexOf(0x0a, lf + 1)) {
    if (lf === from || buf[lf - 1] !== 0x0d) throw new HeadError(400, 'a line ends without CR');
  }
  return -1;
}

/** Lines of a head (`end` from headEnd), first line first. */
function headLines(buf: Buffer, from: number, end: number): string[] {
  return buf.toString('latin1', from, end - 4).split('\r\n');
}

/** Header fields of `lines` (from the second one), checked (an obsolete line folding is no field name). */
function parseFields(lines: string[]): string[] {
  const raw: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadError(400, `header line ${i}: no field name`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HeadError(400, `header line ${i}: invalid field name`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (BAD_VALUE.test(value)) throw new HeadError(400, `header ${name}: invalid character in value`);
    raw.push(name, value);
  }
  return raw;
}

/** The fields that say how a message is framed and what happens to its connection, found in one pass. */
interface FramingFields {
  /** Comma-separated tokens, lower case. */
  readonly connection: string[];
  readonly transferEncoding: string[];
  readonly expect: string[];
  /** Content-Length values, each split at commas. */
  readonly contentLength: string[];
  /** An Upgrade field is present. */
  upgrade: boolean;
}

const TOKEN_FIELDS = { connection: 'connection', 'transfer-encoding': 'transferEncoding', expect: 'expect' } as const;

function framingFields(raw: readonly string[]): FramingFields {
  const f: FramingFields = { connection: [], transferEncoding: [], expect: [], contentLength: [], upgrade: false };
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!;
    // Only names of the lengths of the fields looked for are lowered (6 expect, 7 upgrade, 10 connection, 14 content-length, 17 transfer-encoding).
    if (n.length !== 6 && n.length !== 7 && n.length !== 10 && n.length !== 14 && n.length !== 17) continue;
    const name = n.toLowerCase(), value = raw[i + 1]!;
    if (name === 'upgrade') f.upgrade = true;
    else if (name === 'content-length') for (const v of value.split(',')) f.contentLength.push(v.trim());
    else if (name in TOKEN_FIELDS) {
      const into = f[TOKEN_FIELDS[name as keyof typeof TOKEN_FIELDS]];
      for (const t of value.split(',')) {
        const token = t.trim().toLowerCase();
        if (token) into.push(token);
      }
    }
  }
  return f;
}

function keepAliveOf(f: FramingFields, minor: 0 | 1): boolean {
  return minor === 1 ? !f.connection.includes('close') : f.connection.includes('keep-alive');
}

/** Refuses a head with 400 for `why`. */
function fail(why: string): never {
  throw new HeadError(400, why);
}

/** The declared length (Content-Length, all copies equal), or undefined. */
function contentLength(f: FramingFields): number | undefined {
  const values = f.contentLength;
  if (values.length === 0) return undefined;
  if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) fail('invalid Content-Length');
  return Number(values[0]);
}

/** Reads the request head `buf[from, end)` (end from headEnd); throws HeadError. */
export function parseRequestHead(buf: Buffer, from: number, end: number): RequestHead {
  const lines = headLines(buf, from, end);
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) throw new HeadError(400, 'invalid request line');
  const minor = m[3] === '1' ? 1 : 0;
  const rawHeaders = parseFields(lines);
  const f = framingFields(rawHeaders);
  const te = f.transferEncoding;
  const length = contentLength(f);
  let framing: BodyFraming = { kind: 'none' };
  if (te.length > 0) {
    if (length !== undefined) fail('both Transfer-Encoding and Content-Length');
    if (te[te.length - 1] !== 'chunked') fail('Transfer-Encoding without chunked last');
    framing = { kind: 'chunked' };
  } else if (length) framing = { kind: 'length', length };
  return {
    method: m[1]!, target: m[2]!, minor, rawHeaders, framing, keepAlive: keepAliveOf(f, minor),
    expectContinue: minor === 1 && f.expect.includes('100-continue'),
    upgrade: f.connection.includes('upgrade') && f.upgrade,
  };
}

/**
 * Reads the response head `buf[from, end)` to a request of `method`; throws HeadError (a broken
 * upstream). 1xx, 204 and 304 responses and answers to HEAD have no body; a body without a length
 * or chunks ends when the upstream closes.
 */
export function parseResponseHead(buf: Buffer, from: number, end: number, method: string): ResponseHead {
  const lines = headLines(buf, from, end);
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new HeadError(400, 'invalid status line');
  const minor = m[1] === '1' ? 1 : 0;
  const status = Number(m[2]);
  const rawHeaders = parseFields(lines);
  let framing: BodyFraming;
  const f = framingFields(rawHeaders);
  let keepAlive = keepAliveOf(f, minor);
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) framing = { kind: 'none' };
  else {
    const te = f.transferEncoding;
    const length = contentLength(f);
    if (te.length > 0) framing = te[te.length - 1] === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
    else if (length !== undefined) framing = length ? { kind: 'length', length } : { kind: 'none' };
    else framing = { kind: 'close' };
    if (framing.kind === 'close') keepAlive = false;
  }
  return { status, minor, rawHeaders, framing, keepAlive };
}
