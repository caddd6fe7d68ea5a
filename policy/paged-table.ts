/**
 * A table keyed by non-negative integers, stored as fixed-size pages of slots. Identities are
 * handed out in dense runs, so the keys of one map state (direction+identity indexes) fill whole
 * pages, and a read or write is an array access instead of a hash-map operation. Pages with no
 * entry left are dropped.
 */

const PAGE_SIZE = 64;

interface Page<T> {
  readonly slots: (T | undefined)[];
  count: number;
}

/** Integer-keyed table of values (never `undefined`). */
export class PagedTable<T> {
  readonly #pages = new Map<number, Page<T>>();
  #lastNumber = -1;
  #last: Page<T> | undefined;
  #size = 0;

  /** Number of keys with a value. */
  get size(): number {
    return this.#size;
  }

  /** The value under `key`, if any. */
  get(key: number): T | undefined {
    const number = pageNumber(key);
    return this.#page(number)?.slots[key - number * PAGE_SIZE];
  }

  /** Stores `value` under `key`. */
  set(key: number, value: T): void {
    const number = pageNumber(key);
    let page = this.#page(number);
    if (!page) {
      page = { slots: new Array<T | undefined>(PAGE_SIZE).fill(undefined), count: 0 };
      this.#pages.set(number, page);
      this.#remember(number, page);
    }
    const slot = key - number * PAGE_SIZE;
    if (page.slots[slot] === undefined) {
      page.count++;
      this.#size++;
    }
    page.slots[slot] = value;
  }

  /** Removes the value under `key`. */
  delete(key: number): void {
    const number = pageNumber(key);
    const page = this.#page(number);
    const slot = key - number * PAGE_SIZE;
    if (!page || page.slots[slot] === undefined) return;
    page.slots[slot] = undefined;
    this.#size--;
    if (--page.count > 0) return;
    this.#pages.delete(number);
    if (this.#lastNumber === number) this.#remember(-1, undefined);
  }

  /** Every key with its value, keys ascending. */
  *entries(): IterableIterator<[number, T]> {
    for (const number of [...this.#pages.keys()].sort((a, b) => a - b)) {
      const page = this.#pages.get(number)!;
      for (let slot = 0; slot < PAGE_SIZE; slot++) {
        const value = page.slots[slot];
        if (value !== undefined) yield [number * PAGE_SIZE + slot, value];
      }
    }
  }

  #page(number: number): Page<T> | undefined {
    if (number === this.#lastNumber) return this.#last;
    const page = this.#pages.get(number);
    if (page) this.#remember(number, page);
    return page;
  }

  /** Keeps the last page used at hand: consecutive keys mostly fall on one page. */
  #remember(number: number, page: Page<T> | undefined): void {
    this.#lastNumber = number;
    this.#last = page;
  }
}

/** The page holding `key` (keys stay exact integers far beyond 32 bits). */
function pageNumber(key: number): number {
  return Math.floor(key / PAGE_SIZE);
}
