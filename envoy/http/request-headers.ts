/**
 * A request's header fields by lower-case name, as the HTTP rules read them and as Node presented
 * them before: repeated fields joined with ", " (cookies with "; ", set-cookie kept as a list),
 * and for fields that may appear once only the first kept.
 */

/** Fields whose repetitions are dropped (Node's list). */
const SINGLE = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
]);

/** The fields of `raw` (name, value, name, value, ...) by lower-case name. */
export function requestHeaders(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase(), value = raw[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else if (!SINGLE.has(name)) out[name] = `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}
