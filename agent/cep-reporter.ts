/**
 * Writes CiliumEndpoint status in the background: at most one pending write per endpoint (the latest
 * state wins), at most `concurrency` writes in flight, and nothing written that the apiserver already
 * has. A policy that flips the enforcement of every endpoint then cannot flood the apiserver and slow
 * the watches that carry the next policy change. Status is reporting: enforcement never waits on it.
 */
import type { Logger } from '../runtime/logger.ts';

/** Schedules and performs CiliumEndpoint status writes. */
export class CepReporter {
  readonly #pending = new Set<number>();
  readonly #written = new Map<number, string>();
  #active = 0;

  /**
   * @param build the CiliumEndpoint object of an endpoint now (undefined: nothing to report)
   * @param write writes it to the apiserver
   */
  constructor(
    private readonly build: (id: number) => { status?: unknown } | undefined,
    private readonly write: (obj: { status?: unknown }) => Promise<void>,
    private readonly log: Logger,
    private readonly concurrency = 2,
  ) {}

  /** Asks for the endpoints' status to be written when it differs from what was last written. */
  schedule(ids: Iterable<number>): void {
    for (const id of ids) this.#pending.add(id);
    this.#pump();
  }

  /** Forgets an endpoint that is gone. */
  forget(id: number): void {
    this.#pending.delete(id);
    this.#written.delete(id);
  }

  #pump(): void {
    while (this.#active < this.concurrency && this.#pending.size > 0) {
      const id = this.#pending.values().next().value as number;
      this.#pending.delete(id);
      const obj = this.build(id);
      if (!obj) continue;
      const fingerprint = JSON.stringify(obj.status);
      if (this.#written.get(id) === fingerprint) continue;
      this.#active++;
      this.write(obj).then(
        () => this.#written.set(id, fingerprint),
        (err: unknown) => {
          this.log.warn('could not update CiliumEndpoint; retrying', { endpointId: id, err: (err as Error).message });
          setTimeout(() => this.schedule([id]), 1000).unref();
        },
      ).finally(() => {
        this.#active--;
        this.#pump();
      });
    }
  }
}
