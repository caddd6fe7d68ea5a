/** Progress lines for long commands: one line per step, with its duration. */

/** Reports the steps of a command. */
export interface Progress {
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
  info(line: string): void;
}

/** A progress reporter writing to stderr; quiet when `quiet` is set. */
export function progress(quiet = false): Progress {
  const out = process.stderr;
  const tty = out.isTTY;
  return {
    async step(title, work) {
      const t0 = Date.now();
      if (!quiet && tty) out.write(`  … ${title}`);
      try {
        const r = await work();
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        if (!quiet) out.write(tty ? `\r  ✓ ${title} (${secs}s)\n` : `✓ ${title} (${secs}s)\n`);
        return r;
      } catch (err) {
        if (!quiet) out.write(tty ? `\r  ✗ ${title}\n` : `✗ ${title}\n`);
        throw err;
      }
    },
    info(line) {
      if (!quiet) out.write(`${line}\n`);
    },
  };
}
