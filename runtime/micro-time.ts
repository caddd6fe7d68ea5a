// MicroTime: a Date that serialises with the six fractional digits the API server requires.

/**
 * A Date whose JSON form is RFC 3339 with microseconds (`2006-01-02T15:04:05.000000Z`), the
 * wire format of metav1.MicroTime used by Lease renew/acquire times and Event times. The API
 * server rejects the millisecond form a plain Date produces.
 */
export class MicroTime extends Date {
  /** RFC 3339 with exactly six fractional digits, in UTC. */
  override toJSON(): string {
    return this.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}

/** The MicroTime wire string for epoch milliseconds `ms`. */
export function microTime(ms: number): string {
  return new MicroTime(ms).toJSON();
}
