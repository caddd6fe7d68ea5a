/**
 * Where an HTTP/1.x message body ends in the bytes that follow its head: a declared length, chunks
 * (sizes, data, the last chunk and its trailers) or the connection's end. The proxy relays the
 * body's bytes unchanged and only needs to know how many of them belong to the message, so the
 * next message (pipelining) is read from the right place.
 */

/** How a body is delimited. */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Until the sender closes (responses only). */
  | { readonly kind: 'close' };

/** Longest chunk-size line or trailer line accepted. */
const MAX_LINE = 4096;

const enum Chunk { Size, Ext, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf }

/** Follows one body through the bytes that carry it; throws on malformed chunks. */
export class BodyReader {
  #remaining: number;
  #state = Chunk.Size;
  #sizeDigits = 0;
  #lineLength = 0;
  #done: boolean;

  constructor(readonly framing: BodyFraming) {
    this.#remaining = framing.kind === 'length' ? framing.length : 0;
    this.#done = framing.kind === 'none';
  }

  /** Whether the whole body has been seen. */
  get done(): boolean {
    return this.#done;
  }

  /** How many bytes of `buf` from `offset` belong to the body (all of them until it is done). */
  consume(buf: Buffer, offset: number): number {
    if (this.#done) return 0;
    const available = buf.length - offset;
    switch (this.framing.kind) {
      case 'close':
        return available;
      case 'length': {
        const n = Math.min(available, this.#remaining);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#done = true;
        return n;
      }
      default:
        return this.#chunked(buf, offset);
    }
  }

  #chunked(buf: Buffer, offset: number): number {
    let i = offset;
    while (i < buf.length && !this.#done) {
      if (this.#state === Chunk.Data) {
        const n = Math.min(buf.length - i, this.#remaining);
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = Chunk.DataCr;
        continue;
      }
      const c = buf[i++]!;
      switch (this.#state) {
        case Chunk.Size: {
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.#sizeDigits > 12) throw new Error('chunk size too large');
            this.#remaining = this.#remaining * 16 + digit;
          } else if (this.#sizeDigits === 0) throw new Error('invalid chunk size');
          else if (c === 0x0d) this.#state = Chunk.SizeLf;
          else if (c === 0x3b || c === 0x20 || c === 0x09) this.#state = Chunk.Ext;
          else throw new Error('invalid chunk size');
          break;
        }
        case Chunk.Ext:
          if (++this.#lineLength > MAX_LINE) throw new Error('chunk extension too long');
          if (c === 0x0d) this.#state = Chunk.SizeLf;
          break;
        case Chunk.SizeLf:
          if (c !== 0x0a) throw new Error('invalid chunk size line');
          this.#lineLength = this.#sizeDigits = 0;
          this.#state = this.#remaining === 0 ? Chunk.Trailer : Chunk.Data;
          break;
        case Chunk.DataCr:
          if (c !== 0x0d) throw new Error('chunk data longer than its size');
          this.#state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (c !== 0x0a) throw new Error('chunk data longer than its size');
          this.#state = Chunk.Size;
          break;
        case Chunk.Trailer:
          // A trailer line, or the empty line that ends the body.
          if (c === 0x0d) this.#state = Chunk.TrailerLf;
          else if (++this.#lineLength > MAX_LINE) throw new Error('trailer line too long');
          break;
        case Chunk.TrailerLf:
          if (c !== 0x0a) throw new Error('invalid trailer line');
          if (this.#lineLength === 0) this.#done = true;
          this.#lineLength = 0;
          this.#state = Chunk.Trailer;
          break;
      }
    }
    return i - offset;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
