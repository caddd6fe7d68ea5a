/**
 * The main thread's side of the slot worker (endpoint-slot-worker.ts): one worker per enforcer,
 * one job at a time, answered through promises. The worker does not keep the process alive.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LoadOptions } from '../datapath/loader.ts';

/** Whether this code runs as a bundle (the images' `agent.mjs`) rather than TypeScript under tsx. */
const BUNDLED = !import.meta.url.endsWith('.ts');

/**
 * The worker: bundled, the worker's own bundle beside this one; from TypeScript, a bootstrap, since
 * workers do not inherit the `--import tsx` loader hooks: it registers tsx itself before importing
 * the TypeScript entry.
 */
function startWorker(): Worker {
  if (BUNDLED) return new Worker(new URL('./endpoint-slot-worker.mjs', import.meta.url));
  return new Worker(workerBootstrap(), { eval: true });
}

/** The TypeScript worker's bootstrap (see startWorker). */
function workerBootstrap(): string {
  // tsx's ESM API (its `tsx/esm/api` export); its register() installs the hooks in this thread.
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const entry = new URL('./endpoint-slot-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
}

/** One slot to prepare: endpoint `id`'s maps created under `pinRoot` and put in the outer maps. */
export interface SlotJob {
  id: number;
  pinRoot: string;
  maxEntries?: LoadOptions['maxEntries'];
}

/** The worker's answer. */
export interface SlotDone {
  id: number;
  error?: string;
}

/** How long the worker stays without a job before it is stopped (a new job starts it again). */
export const SLOT_WORKER_IDLE_MS = 30_000;

/**
 * Prepares slots on a worker thread. The worker, a whole JavaScript heap of its own (about 10 MiB
 * resident), runs only while there is work: started by the first job, stopped once it has had
 * none for `idleMs`, started again by the next. Spare slots are made in bursts (start-up, a burst
 * of pods), so an agent whose pool is full holds no worker.
 */
export class SlotPreparer {
  #worker: Worker | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  constructor(private readonly idleMs = SLOT_WORKER_IDLE_MS) {}

  /** Whether a worker is running now. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Resolves once the worker has made and registered the slot's maps (pinned; open them by path). */
  prepare(job: SlotJob): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const worker = this.#worker ?? this.#start();
    return new Promise((resolve, reject) => {
      this.#pending.set(job.id, { resolve, reject });
      worker.postMessage(job);
    });
  }

  /** Stops the worker; unanswered jobs fail. */
  close(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#stop();
  }

  #start(): Worker {
    const worker = startWorker();
    this.#worker = worker;
    worker.unref();
    worker.on('message', (done: SlotDone) => {
      const p = this.#pending.get(done.id);
      this.#pending.delete(done.id);
      if (done.error) p?.reject(new Error(`preparing endpoint slot ${done.id}: ${done.error}`));
      else p?.resolve();
      if (this.#pending.size === 0 && this.#worker === worker) this.#idleTimer = setTimeout(() => this.#stop(), this.idleMs).unref();
    });
    // Only the current worker's end fails the jobs: a stopped idle worker had none.
    const failAll = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', () => failAll(new Error('the endpoint slot worker stopped')));
    return worker;
  }

  #stop(): void {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error('the endpoint slot worker stopped'));
    this.#pending.clear();
    void worker.terminate();
  }
}
