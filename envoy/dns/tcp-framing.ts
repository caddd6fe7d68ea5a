/**
 * DNS over TCP framing (RFC 1035 4.2.2, RFC 7766): every message is preceded by its length as two
 * bytes, and one connection may carry many messages, pipelined.
 */

/** Splits a byte stream into DNS messages. */
export class DnsFrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the messages they completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (this.#pending.length >= 2) {
      const len = this.#pending.readUInt16BE(0);
      if (this.#pending.length < 2 + len) break;
      out.push(this.#pending.subarray(2, 2 + len));
      this.#pending = this.#pending.subarray(2 + len);
    }
    return out;
  }

  /** Bytes of an incomplete message held. */
  get buffered(): number {
    return this.#pending.length;
  }
}

/** One message with its length prefix. */
export function dnsFrame(msg: Buffer): Buffer {
  if (msg.length > 0xffff) throw new RangeError(`DNS message of ${msg.length} bytes exceeds the TCP frame limit of 65535`);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(msg.length, 0);
  return Buffer.concat([head, msg]);
}
