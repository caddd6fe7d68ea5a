/** A small argument parser for the ciliate command: positional words and --flag[=value] options. */

/** Parsed command-line arguments. */
export interface Args {
  words: string[];
  flags: Map<string, string | true>;
}

/** Splits argv into words and flags; `--name x` and `--name=x` are both accepted for `valued` flags. */
export function parseArgs(argv: string[], valued: readonly string[]): Args {
  const words: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      words.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (inline !== undefined) flags.set(key, inline);
    else if (valued.includes(key)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      flags.set(key, v);
    } else flags.set(key, true);
  }
  return { words, flags };
}

/** The string value of a flag, or undefined. */
export function flag(args: Args, key: string): string | undefined {
  const v = args.flags.get(key);
  return typeof v === 'string' ? v : undefined;
}
