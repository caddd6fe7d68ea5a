// Phase timings for logs and benchmarks.

/** Milliseconds from `from` to `to` (performance.now() readings; `to` defaults to now), to 0.1 ms. */
export function elapsedMs(from: number, to = performance.now()): number {
  return Math.round((to - from) * 10) / 10;
}
