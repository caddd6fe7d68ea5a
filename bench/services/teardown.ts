/**
 * The bench's undo list: every namespace, link, process and cluster it makes is registered here as
 * soon as it exists, and removed in reverse order exactly once, whether the run ends normally, with
 * an error, or by SIGINT/SIGTERM/SIGHUP.
 */

/** One registered undo step. */
interface Step {
  what: string;
  undo: () => Promise<unknown> | unknown;
}

/** Reverse-order teardown with signal handling; see the file comment. */
export class Teardown {
  readonly #steps: Step[] = [];
  #running?: Promise<void>;

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        console.error(`\n${sig}: tearing down`);
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  /** Registers `undo` (named `what` in error messages) to run at teardown, before earlier steps. */
  add(what: string, undo: () => Promise<unknown> | unknown): void {
    this.#steps.push({ what, undo });
  }

  /** Runs every step, newest first; a failing step is reported and the rest still run. Idempotent. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.undo();
        } catch (err) {
          console.error(`teardown: ${step.what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.#running;
  }
}
