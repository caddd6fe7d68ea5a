/**
 * Maglev lookup tables (Eisenbud et al., NSDI 2016): every backend gets a pseudo-random permutation
 * of the M table slots from two hashes of its name; backends take turns claiming their next
 * unclaimed slot until the table is full. Each backend ends up with about M/N slots, and removing
 * a backend moves only the flows that were on it (plus a few). The datapath hashes a flow's 5-tuple
 * to a slot (lb-select.h), so every node picks the same backend for the same flow.
 */

/** Upstream's allowed table sizes (primes); the default is 16381. */
export const MAGLEV_TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;
/** The default table size. */
export const MAGLEV_DEFAULT_SIZE = 16381;

/** FNV-1a over a string with a seed, finished with a 32-bit mixer. */
function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The lookup table of size `m` (a prime) for backends named `names` (their ids in `ids`, same order):
 * slot → backend id. Names must be stable (e.g. `ip:port/proto`); the result does not depend on
 * the order of the inputs. Throws when m is not an allowed size or there are no backends.
 */
export function maglevTable(names: string[], ids: number[], m: number = MAGLEV_DEFAULT_SIZE): Uint32Array {
  if (!(MAGLEV_TABLE_SIZES as readonly number[]).includes(m)) throw new Error(`maglev table size ${m} is not one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
  if (names.length === 0 || names.length !== ids.length) throw new Error('maglev needs at least one backend, with one id per name');
  const order = names.map((n, i) => [n, ids[i]!] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const n = order.length;
  const offset = new Uint32Array(n);
  const skip = new Uint32Array(n);
  const next = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    offset[i] = hash32(order[i]![0], 0x5bd1e995) % m;
    skip[i] = (hash32(order[i]![0], 0x27d4eb2f) % (m - 1)) + 1;
  }
  const owner = new Int32Array(m).fill(-1);
  const table = new Uint32Array(m);
  let filled = 0;
  while (filled < m) {
    for (let i = 0; i < n && filled < m; i++) {
      let slot = (offset[i]! + next[i]! * skip[i]!) % m;
      while (owner[slot] !== -1) {
        next[i]!++;
        slot = (offset[i]! + next[i]! * skip[i]!) % m;
      }
      owner[slot] = i;
      table[slot] = order[i]![1];
      next[i]!++;
      filled++;
    }
  }
  return table;
}
