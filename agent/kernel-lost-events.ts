/**
 * Flow events the kernel could not hand over: the datapath counts every event that found its ring
 * buffer full (`cilium_events_stats`, pinned, so it outlives agents). Each poll reports what was
 * lost since the previous one; the first poll only takes the baseline (losses before this agent
 * started are no client's news).
 */

/** Turns a cumulative lost counter into increments. */
export class KernelLostEvents {
  private last: bigint | undefined;

  /**
   * @param read the counter's current value (throws while the datapath is not loaded: skipped).
   * @param report called with each positive increment.
   */
  constructor(private readonly read: () => bigint, private readonly report: (n: number) => void) {}

  /** Reads the counter and reports what was lost since the previous read. */
  poll(): void {
    let now: bigint;
    try {
      now = this.read();
    } catch {
      return;
    }
    const before = this.last;
    this.last = now;
    if (before !== undefined && now > before) this.report(Number(now - before));
  }
}
