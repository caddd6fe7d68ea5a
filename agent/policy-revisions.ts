/**
 * Read-your-writes for policy, as upstream's policy revision (`cilium-dbg policy get` shows it,
 * `cilium-dbg policy wait <rev>` waits for it): every change to the policy repository raises its
 * revision; {@link PolicyRevisions.wait} resolves once the engine has reached a revision and every
 * endpoint's policy map (and the ipcache) holds what the engine computed by then, built on the
 * tables' `waitUntilReconciled`.
 */

/** The kernel side as the waiter sees it. */
export interface PolicyKernel {
  /** The policy repository's revision now. */
  revision(): number;
  /**
   * Resolves once every endpoint's policy rows and the ipcache rows changed so far have been
   * attempted, with the endpoints whose rows are in error (or waiting for room).
   */
  settled(): Promise<PolicyWaitResult>;
}

/** What a wait found. */
export interface PolicyWaitResult {
  /** The revision the kernel holds (at least the one waited for). */
  revision: number;
  /** Endpoints whose policy map was waited for. */
  endpoints: number;
  /** Endpoints with rows not in the kernel, and why. */
  failed: Array<{ endpoint: number; rows: number; message: string }>;
}

interface Waiter {
  revision: number;
  resolve: () => void;
}

/** Waits for policy revisions to reach the kernel. */
export class PolicyRevisions {
  #waiters: Waiter[] = [];
  #checkQueued = false;

  constructor(private readonly kernel: PolicyKernel) {}

  /** The policy repository's revision now. */
  get revision(): number {
    return this.kernel.revision();
  }

  /**
   * Tells waiters the engine may have moved. Checked after the current task's synchronous work,
   * so the rows a change implies (policy, then its CIDRs' ipcache rows) are all in their tables.
   */
  changed(): void {
    if (this.#checkQueued || this.#waiters.length === 0) return;
    this.#checkQueued = true;
    queueMicrotask(() => {
      this.#checkQueued = false;
      const now = this.kernel.revision();
      const reached = this.#waiters.filter((w) => w.revision <= now);
      this.#waiters = this.#waiters.filter((w) => w.revision > now);
      for (const w of reached) w.resolve();
    });
  }

  /**
   * Resolves once the engine reached `revision` and the kernel holds it for every endpoint;
   * undefined when `signal` aborts first (a timeout, or the caller left).
   */
  async wait(revision: number, signal: AbortSignal): Promise<PolicyWaitResult | undefined> {
    if (signal.aborted) return undefined;
    if (this.kernel.revision() < revision) {
      const reached = await new Promise<boolean>((resolve) => {
        const w: Waiter = { revision, resolve: () => resolve(true) };
        this.#waiters.push(w);
        signal.addEventListener('abort', () => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          resolve(false);
        }, { once: true });
      });
      if (!reached) return undefined;
    }
    const settled = await Promise.race([
      this.kernel.settled(),
      new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true })),
    ]);
    return settled && { ...settled, revision: Math.max(revision, settled.revision) };
  }
}
