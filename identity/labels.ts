/**
 * Source-prefixed labels (`source:key=value`), the vocabulary identities and selectors speak.
 * A label's source tells where it came from (`k8s` for pod labels, `reserved` for the agent's
 * special identities, `cidr` for prefixes, ...). In a selector the source `any` matches every source.
 */

/** Label sources known to upstream; `any` is only meaningful inside selectors. */
export const LABEL_SOURCES = [
  'k8s', 'container', 'cni', 'reserved', 'cidr', 'cidrgroup', 'node', 'fqdn', 'directory', 'unspec', 'any',
] as const;

/** One of {@link LABEL_SOURCES}. */
export type LabelSource = (typeof LABEL_SOURCES)[number];

/** One label: where it came from, its key and its (possibly empty) value. */
export interface Label {
  readonly source: LabelSource;
  readonly key: string;
  readonly value: string;
}

const SOURCE_SET: ReadonlySet<string> = new Set(LABEL_SOURCES);

/** True when `s` is a known label source. */
export function isLabelSource(s: string): s is LabelSource {
  return SOURCE_SET.has(s);
}

/**
 * Splits `source:key` into its parts. A key without a known source prefix gets `defaultSource`
 * (`any` in selectors, `k8s` for pod labels). Only the first `:` counts, so `cidr:fd00::/64`
 * style keys keep the rest.
 */
export function splitSourceKey(raw: string, defaultSource: LabelSource): { source: LabelSource; key: string } {
  const colon = raw.indexOf(':');
  if (colon > 0) {
    const maybe = raw.slice(0, colon);
    if (isLabelSource(maybe)) return { source: maybe, key: raw.slice(colon + 1) };
  }
  return { source: defaultSource, key: raw };
}

/** Parses `source:key=value` (value optional) into a {@link Label}. */
export function parseLabel(raw: string, defaultSource: LabelSource = 'unspec'): Label {
  const eq = raw.indexOf('=');
  const head = eq >= 0 ? raw.slice(0, eq) : raw;
  const value = eq >= 0 ? raw.slice(eq + 1) : '';
  const { source, key } = splitSourceKey(head, defaultSource);
  return { source, key, value };
}

/** Formats a label as upstream prints it: `source:key=value`, or `source:key` when the value is empty. */
export function formatLabel(l: Label): string {
  return l.value === '' ? `${l.source}:${l.key}` : `${l.source}:${l.key}=${l.value}`;
}

/** Builds a label. */
export function label(source: LabelSource, key: string, value = ''): Label {
  return { source, key, value };
}

/**
 * An immutable, sorted set of labels with at most one value per `source:key`. Lookups by
 * `source:key` and by key alone (for `any:` selectors) are O(1).
 */
export class LabelSet {
  readonly #bySourceKey = new Map<string, Label>();
  readonly #byKey = new Map<string, Label[]>();
  readonly #sorted: readonly Label[];
  /** Canonical string (sorted `source:key=value` joined by `;`), usable as a map key. */
  readonly canonical: string;

  constructor(labels: Iterable<Label>) {
    for (const l of labels) this.#bySourceKey.set(`${l.source}:${l.key}`, l);
    this.#sorted = [...this.#bySourceKey.values()].sort(compareLabels);
    for (const l of this.#sorted) {
      const list = this.#byKey.get(l.key);
      if (list) list.push(l);
      else this.#byKey.set(l.key, [l]);
    }
    this.canonical = this.#sorted.map(formatLabel).join(';');
  }

  /** Parses a list of `source:key=value` strings. */
  static parse(raw: Iterable<string>, defaultSource: LabelSource = 'unspec'): LabelSet {
    return new LabelSet([...raw].map((r) => parseLabel(r, defaultSource)));
  }

  /** Builds a set from a plain `{key: value}` map, all with one source. */
  static fromMap(map: Readonly<Record<string, string>>, source: LabelSource): LabelSet {
    return new LabelSet(Object.entries(map).map(([key, value]) => ({ source, key, value })));
  }

  /** The labels, sorted by source, then key. */
  get labels(): readonly Label[] {
    return this.#sorted;
  }

  /** Number of labels. */
  get size(): number {
    return this.#sorted.length;
  }

  /** Labels carrying `key` under the given source; `any` returns every source's label. */
  find(source: LabelSource, key: string): readonly Label[] {
    if (source === 'any') return this.#byKey.get(key) ?? [];
    const l = this.#bySourceKey.get(`${source}:${key}`);
    return l ? [l] : [];
  }

  /** The label stored under `source:key` (a specific source). */
  getSourceKey(sourceKey: string): Label | undefined {
    return this.#bySourceKey.get(sourceKey);
  }

  /** Every label with this key, whatever its source. */
  getKey(key: string): readonly Label[] | undefined {
    return this.#byKey.get(key);
  }

  /** True when a label with this source (or any source, for `any`) and key is present. */
  has(source: LabelSource, key: string): boolean {
    return source === 'any' ? this.#byKey.has(key) : this.#bySourceKey.has(`${source}:${key}`);
  }

  /** True when a label with this source (or any, for `any`) and key has one of `values` (no allocation). */
  hasValueIn(source: LabelSource, key: string, values: readonly string[]): boolean {
    if (source !== 'any') {
      const l = this.#bySourceKey.get(`${source}:${key}`);
      return l !== undefined && values.includes(l.value);
    }
    const list = this.#byKey.get(key);
    if (list === undefined) return false;
    for (const l of list) if (values.includes(l.value)) return true;
    return false;
  }

  /** All labels of one source. */
  ofSource(source: LabelSource): Label[] {
    return this.#sorted.filter((l) => l.source === source);
  }

  /** A new set with `extra` added (replacing same `source:key`). */
  with(extra: Iterable<Label>): LabelSet {
    return new LabelSet([...this.#sorted, ...extra]);
  }

  /** The labels as `source:key=value` strings, sorted. */
  toStrings(): string[] {
    return this.#sorted.map(formatLabel);
  }

  /** True when both sets hold the same labels. */
  equals(other: LabelSet): boolean {
    return this.canonical === other.canonical;
  }
}

/** Orders labels by source, then key, then value. */
export function compareLabels(a: Label, b: Label): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return 0;
}
