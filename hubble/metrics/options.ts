/**
 * The `hubble-metrics` setting as upstream reads it: a space-separated list of metrics, each
 * `name` or `name:option;option=value;...`, e.g. `drop:sourceContext=pod;destinationContext=pod
 * flow tcp`. Context options (`sourceContext`, `destinationContext`, their `Egress`/`Ingress`
 * variants, `labelsContext`) choose extra labels; a few metrics take options of their own. What
 * Ciliate cannot honour is reported as one line naming it, never thrown: an unknown metric or a bad
 * context value drops that metric, an unknown option is ignored.
 */

/** The metrics Ciliate computes from its flows. */
export const BUILT_METRICS = ['flow', 'drop', 'tcp', 'port-distribution', 'icmp', 'policy', 'flows-to-world', 'dns'] as const;

/** A metric Ciliate computes. */
export type MetricName = (typeof BUILT_METRICS)[number];

/** Upstream metrics over layer 7 flows Ciliate's proxies do not produce. */
const L7_METRICS = new Set(['http', 'httpV2', 'kafka']);

/** Options each metric takes besides the context options. */
const OWN_OPTIONS: Partial<Record<MetricName, readonly string[]>> = { 'flows-to-world': ['any-drop', 'port', 'syn-only'], dns: ['query', 'ignoreaaaa'] };

/** Identifiers a source or destination context may name. */
export const CONTEXT_IDENTIFIERS = ['identity', 'namespace', 'pod', 'pod-name', 'pod-short', 'dns', 'ip', 'reserved-identity', 'workload', 'workload-name', 'app'] as const;

/** A source or destination context identifier. */
export type ContextIdentifier = (typeof CONTEXT_IDENTIFIERS)[number];

/** Labels `labelsContext` may add, in the order they appear on a series. */
export const CONTEXT_LABELS = [
  'source_ip', 'source_pod', 'source_namespace', 'source_workload', 'source_workload_kind', 'source_app',
  'destination_ip', 'destination_pod', 'destination_namespace', 'destination_workload', 'destination_workload_kind', 'destination_app',
  'traffic_direction',
] as const;

/** A `labelsContext` label. */
export type ContextLabel = (typeof CONTEXT_LABELS)[number];

/** Which context labels a metric carries; an empty list means no such label. */
export interface ContextOptions {
  source: ContextIdentifier[];
  sourceEgress: ContextIdentifier[];
  sourceIngress: ContextIdentifier[];
  destination: ContextIdentifier[];
  destinationEgress: ContextIdentifier[];
  destinationIngress: ContextIdentifier[];
  labels: ContextLabel[];
}

/** One enabled metric. */
export interface MetricSpec {
  name: MetricName;
  context: ContextOptions;
  /** Its own options that were set (e.g. `any-drop`), by name. */
  flags: Set<string>;
}

/** The parsed setting and one line per thing ignored in it. */
export interface MetricsConfig {
  metrics: MetricSpec[];
  problems: string[];
}

const CONTEXT_KEYS: Record<string, keyof Omit<ContextOptions, 'labels'>> = {
  sourcecontext: 'source', sourceegresscontext: 'sourceEgress', sourceingresscontext: 'sourceIngress',
  destinationcontext: 'destination', destinationegresscontext: 'destinationEgress', destinationingresscontext: 'destinationIngress',
};

/** A context with no labels. */
export function emptyContext(): ContextOptions {
  return { source: [], sourceEgress: [], sourceIngress: [], destination: [], destinationEgress: [], destinationIngress: [], labels: [] };
}

/** Parses `a|b|c` into context identifiers; throws naming the first unknown one. */
function parseIdentifiers(key: string, value: string): ContextIdentifier[] {
  return value.split('|').map((v) => {
    const id = v.trim().toLowerCase();
    if (!(CONTEXT_IDENTIFIERS as readonly string[]).includes(id)) {
      throw new Error(`${key}: unknown context "${v}" (one of ${CONTEXT_IDENTIFIERS.join(', ')})`);
    }
    return id as ContextIdentifier;
  });
}

/** Parses `a,b` into labels, in their series order; throws naming the first unknown one. */
function parseLabels(value: string): ContextLabel[] {
  const wanted = new Set(value.split(',').map((l) => l.trim()));
  for (const l of wanted) {
    if (!(CONTEXT_LABELS as readonly string[]).includes(l)) throw new Error(`labelsContext: unknown label "${l}" (one of ${CONTEXT_LABELS.join(', ')})`);
  }
  return CONTEXT_LABELS.filter((l) => wanted.has(l));
}

/** Parses one list item (`name[:options]`); throws for what makes the metric unusable. */
function parseItem(item: string, problems: string[]): MetricSpec {
  const colon = item.indexOf(':');
  const name = colon < 0 ? item : item.slice(0, colon);
  if (L7_METRICS.has(name)) throw new Error(`Hubble metric "${name}" needs layer 7 flows of a proxy Ciliate does not run; ignored`);
  if (!(BUILT_METRICS as readonly string[]).includes(name)) {
    throw new Error(`unknown Hubble metric "${name}" (Ciliate serves ${BUILT_METRICS.join(', ')}); ignored`);
  }
  const spec: MetricSpec = { name: name as MetricName, context: emptyContext(), flags: new Set() };
  const own = OWN_OPTIONS[spec.name] ?? [];
  for (const option of colon < 0 ? [] : item.slice(colon + 1).split(';')) {
    if (!option) continue;
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    const lower = key.toLowerCase();
    try {
      if (CONTEXT_KEYS[lower]) spec.context[CONTEXT_KEYS[lower]] = parseIdentifiers(key, value);
      else if (lower === 'labelscontext') spec.context.labels = parseLabels(value);
      else if (own.includes(lower)) spec.flags.add(lower);
      else problems.push(`Hubble metric "${name}": unknown option "${key}"; ignored`);
    } catch (err) {
      throw new Error(`Hubble metric "${name}": ${(err as Error).message}; metric ignored`, { cause: err });
    }
  }
  return spec;
}

/** Parses a `hubble-metrics` value. A metric listed twice keeps its last options. */
export function parseMetricsConfig(text: string): MetricsConfig {
  const problems: string[] = [];
  const byName = new Map<MetricName, MetricSpec>();
  for (const item of text.split(/\s+/).filter(Boolean)) {
    try {
      const spec = parseItem(item, problems);
      byName.set(spec.name, spec);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return { metrics: [...byName.values()], problems };
}
