/**
 * Start and stop hooks of a process's modules, as hive's lifecycle: a module registers its hooks
 * while it is built (building touches nothing outside the process), the hooks start in registration
 * order, so a module's hook runs after those of the modules it was given, and stop in reverse order.
 * Only hooks whose start began are stopped (a stop hook undoes whatever part of its start ran).
 */
import { nopLogger, type Logger } from './logger.ts';
import type { Runnable } from './manager.ts';

/** What a module does when the process starts and stops. */
export interface Hook {
  /** Names the hook in logs. */
  name: string;
  /** Runs once, after the hooks registered before it; a failure stops the start (and the process). */
  start?(signal: AbortSignal): void | Promise<void>;
  /** Undoes the start (or the part of it that ran); runs before the stop hooks registered before it. */
  stop?(): void;
}

/** The hooks of a process's modules. */
export class Lifecycle {
  readonly #hooks: Hook[] = [];
  readonly #started: Hook[] = [];
  #stopped = false;
  #resolveStarted!: () => void;
  /** Resolves once every start hook ran (work that needs every module started waits on it). */
  readonly started = new Promise<void>((resolve) => (this.#resolveStarted = resolve));

  constructor(private readonly log: Logger = nopLogger) {}

  /** Registers a module's hooks (after those registered so far). */
  append(hook: Hook): void {
    this.#hooks.push(hook);
  }

  /** Runs the start hooks in order; stops at the first that fails, rethrowing its error. */
  async start(signal: AbortSignal): Promise<void> {
    for (const hook of this.#hooks) {
      if (signal.aborted || this.#stopped) return;
      this.#started.push(hook);
      await hook.start?.(signal);
    }
    this.#resolveStarted();
  }

  /** Runs the stop hooks of the started modules in reverse order (once; a throwing hook is logged). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const hook of this.#started.reverse()) {
      try {
        hook.stop?.();
      } catch (err) {
        this.log.error('stop hook failed', { hook: hook.name, err: (err as Error).message });
      }
    }
  }

  /**
   * The start hooks as a Manager runnable: they run once the caches synced; it then runs until the
   * Manager stops. Stop hooks are the composition root's to call, after every runnable stopped.
   */
  runnable(): Runnable {
    return {
      needLeaderElection: false,
      start: async (signal) => {
        await this.start(signal);
        if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    };
  }
}
