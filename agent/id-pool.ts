/**
 * Numeric ids 1..max handed out without reuse while in use: `take()` returns the next free id after
 * the last one taken (wrapping), so allocation stays cheap with many ids in use and a freed id is
 * not handed out again at once.
 */
export class IdPool {
  readonly #used = new Set<number>();
  #cursor = 0;

  /** Ids run from 1 to `max`. */
  constructor(readonly max: number) {}

  /** Marks an id as in use (e.g. one found in the kernel after a restart). */
  reserve(id: number): void {
    this.#used.add(id);
  }

  /** Returns a free id and marks it in use; throws when every id is taken. */
  take(): number {
    if (this.#used.size >= this.max) throw new Error(`id space 1..${this.max} exhausted`);
    for (;;) {
      this.#cursor = this.#cursor >= this.max ? 1 : this.#cursor + 1;
      if (!this.#used.has(this.#cursor)) {
        this.#used.add(this.#cursor);
        return this.#cursor;
      }
    }
  }

  /** Returns an id to the pool. */
  free(id: number): void {
    this.#used.delete(id);
  }
}
