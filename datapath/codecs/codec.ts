// The codec contract shared by every generated map key/value codec.

/** Fixed-size binary encoder/decoder for one C struct. */
export interface Codec<T> {
  /** Size of the C struct in bytes. */
  readonly size: number;
  /** Writes v at off (zeroing padding) into buf, allocating one when omitted; returns buf. */
  encode(v: T, buf?: Buffer, off?: number): Buffer;
  /** Reads one value starting at off. */
  decode(buf: Buffer, off?: number): T;
}
