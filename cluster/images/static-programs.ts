/** Ciliate's own small image programs (programs/*.c), compiled statically with gcc and cached by source. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../runtime/exec.ts';
import { cachedFile, inputHash } from './content-cache.ts';

/** The programs in cluster/images/programs: pause (a pod sandbox) and deathstar (the demo's server). */
export type StaticProgram = 'pause' | 'deathstar';

const PROGRAMS_DIR = join(import.meta.dirname, 'programs');
const CFLAGS = ['-static', '-O2', '-s', '-Wall', '-Wextra', '-Werror'];

/** Path of the static binary of `program`, compiled into `<cacheDir>/programs` unless already there. */
export async function staticProgram(program: StaticProgram, cacheDir: string): Promise<string> {
  const source = join(PROGRAMS_DIR, `${program}.c`);
  const compiler = await run('gcc', ['--version']).catch((err: Error) => {
    throw new Error(`gcc is needed to compile the ${program} image program (apt-get install gcc libc6-dev): ${err.message}`);
  });
  const key = inputHash([readFileSync(source), compiler, CFLAGS.join(' ')]);
  const built = await cachedFile(join(cacheDir, 'programs'), program, key, '', async () => {
    const out = join(cacheDir, 'programs', `${program}.${process.pid}.build`);
    await run('gcc', [...CFLAGS, '-o', out, source]);
    try {
      return [readFileSync(out)];
    } finally {
      rmSync(out, { force: true });
    }
  }, 0o755);
  return built.path;
}
