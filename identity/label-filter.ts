/**
 * The identity-relevant label filter: which of an endpoint's labels take part in its identity.
 *
 * Patterns are `[!][source:]regex`. A pattern with `!` excludes, otherwise it includes. The regex
 * is anchored at the start of the key (a prefix match that may use regex syntax). A label counts
 * when the longest matching include pattern is longer than the shortest matching exclude pattern.
 * When the user configured no include pattern of their own, a label no pattern matches counts too;
 * once they configure one, only included labels count (the default includes are always kept).
 */
import { type Label, LabelSet, type LabelSource, splitSourceKey } from './labels.ts';

/** Upstream's default include patterns. */
export const DEFAULT_INCLUDE_PATTERNS: readonly string[] = [
  'reserved:.*',
  'io\\.kubernetes\\.pod\\.namespace',
  'io\\.cilium\\.k8s\\.namespace\\.labels',
  'app\\.kubernetes\\.io',
  'io\\.cilium\\.k8s\\.policy\\.cluster',
];

/** Upstream's default exclude patterns (without their leading `!`). */
export const DEFAULT_EXCLUDE_PATTERNS: readonly string[] = [
  'io\\.kubernetes',
  'kubernetes\\.io',
  'statefulset\\.kubernetes\\.io/pod-name',
  'apps\\.kubernetes\\.io/pod-index',
  'batch\\.kubernetes\\.io/job-completion-index',
  'batch\\.kubernetes\\.io/controller-uid',
  '.*beta\\.kubernetes\\.io',
  'k8s\\.io',
  'pod-template-generation',
  'pod-template-hash',
  'controller-revision-hash',
  'controller-uid',
  'annotation.*',
  'etcd_node',
];

interface CompiledPattern {
  readonly source: LabelSource;
  readonly regex: RegExp;
  readonly length: number;
  readonly exclude: boolean;
}

function compile(raw: string, exclude: boolean): CompiledPattern {
  const { source, key } = splitSourceKey(raw, 'any');
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${key})`);
  } catch (err) {
    throw new Error(`label filter pattern ${JSON.stringify(raw)}: ${(err as Error).message}`, { cause: err });
  }
  return { source, regex, length: key.length, exclude };
}

function parsePattern(raw: string): CompiledPattern {
  return raw.startsWith('!') ? compile(raw.slice(1), true) : compile(raw, false);
}

/** A compiled identity-relevant label filter. */
export class LabelFilter {
  readonly #patterns: readonly CompiledPattern[];
  readonly #userIncludes: boolean;

  /**
   * @param userPatterns extra patterns from configuration (Helm `labels`, agent `--labels`),
   *   each `[!][source:]regex`; whitespace-separated strings are split.
   */
  constructor(userPatterns: readonly string[] = []) {
    const user = userPatterns.flatMap((p) => p.split(/\s+/)).filter((p) => p !== '').map(parsePattern);
    this.#userIncludes = user.some((p) => !p.exclude);
    this.#patterns = [
      ...DEFAULT_INCLUDE_PATTERNS.map((p) => compile(p, false)),
      ...DEFAULT_EXCLUDE_PATTERNS.map((p) => compile(p, true)),
      ...user,
    ];
  }

  /** True when `l` takes part in identity. */
  accepts(l: Label): boolean {
    let include = 0;
    let exclude = Number.POSITIVE_INFINITY;
    let anyMatch = false;
    for (const p of this.#patterns) {
      if (p.source !== 'any' && p.source !== l.source) continue;
      if (!p.regex.test(l.key)) continue;
      anyMatch = true;
      if (p.exclude) exclude = Math.min(exclude, p.length);
      else include = Math.max(include, p.length);
    }
    if (!anyMatch) return !this.#userIncludes;
    if (include === 0) return false;
    return exclude === Number.POSITIVE_INFINITY || include > exclude;
  }

  /** Splits `labels` into the identity-relevant ones and the rest (informational only). */
  filter(labels: LabelSet): { identity: LabelSet; informational: LabelSet } {
    const keep: Label[] = [];
    const drop: Label[] = [];
    for (const l of labels.labels) (this.accepts(l) ? keep : drop).push(l);
    return { identity: new LabelSet(keep), informational: new LabelSet(drop) };
  }
}
