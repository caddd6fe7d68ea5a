// Preconditions of privileged datapath tests: each returns a reason to skip, or undefined to run.
import { existsSync } from 'node:fs';
import { nativeAvailable } from '../../../datapath/native.ts';
import { ENDPOINT_OBJECT } from '../../../datapath/loader.ts';

/** Why BPF tests cannot run here, or undefined when they can. */
export function bpfSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (CAP_BPF, CAP_NET_ADMIN)';
  if (!nativeAvailable()) return 'native module not built: npm run build:datapath';
  if (!existsSync(ENDPOINT_OBJECT)) return 'BPF object not built: npm run build:datapath';
  return undefined;
}

/** Skips the current suite (call in before()) with a clear reason when BPF tests cannot run. */
export function requireBpf(ctx: Mocha.Context): void {
  const reason = bpfSkipReason();
  if (reason) {
    console.log(`      skipped: ${reason}`);
    ctx.skip();
  }
}
