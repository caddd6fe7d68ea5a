/**
 * The `main` shared by long-running processes (agent, node runner): runs a body until SIGTERM or
 * SIGINT, then exits 0; a failure is logged and exits 1.
 */
import type { Logger } from './logger.ts';

/** Runs `body` until SIGTERM/SIGINT aborts its signal; exits 0 when it returns, 1 when it fails. */
export function runUntilSignalled(component: string, log: Logger, body: (signal: AbortSignal) => Promise<void>): void {
  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  process.on('SIGINT', () => stop.abort());
  body(stop.signal).then(
    () => process.exit(0),
    (err: unknown) => {
      log.error(`${component} failed`, { err });
      process.exit(1);
    },
  );
}
