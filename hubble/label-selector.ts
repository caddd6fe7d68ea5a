/**
 * Hubble's label filters: Kubernetes label selector syntax (`app=web,tier!=db`, `env in (a,b)`,
 * `!legacy`, `team`) over a flow endpoint's labels (`source:key=value` strings). A key with a
 * source (`k8s:app`) matches only labels of that source; a key without one matches any source.
 */

/** One requirement of a selector. */
interface Requirement {
  source: string | undefined;
  key: string;
  op: 'exists' | 'absent' | 'in' | 'notin';
  values: string[];
}

/** A parsed selector: every requirement must hold. */
export type LabelSelector = (labels: readonly string[]) => boolean;

const KEY = /^(?:([A-Za-z0-9_.-]+):)?([A-Za-z0-9_./-]+)$/;

/** Parses a selector; throws an Error describing what is wrong. */
export function parseLabelSelector(text: string): LabelSelector {
  const reqs = splitRequirements(text).map(parseRequirement);
  if (reqs.length === 0) throw new Error(`empty label selector "${text}"`);
  return (labels) => {
    const parsed = labels.map(splitLabel);
    return reqs.every((r) => {
      const values = parsed.filter((l) => l.key === r.key && (r.source === undefined || r.source === 'any' || l.source === r.source)).map((l) => l.value);
      switch (r.op) {
        case 'exists': return values.length > 0;
        case 'absent': return values.length === 0;
        case 'in': return values.some((v) => r.values.includes(v));
        case 'notin': return !values.some((v) => r.values.includes(v));
      }
    });
  };
}

/** Splits at commas outside parentheses. */
function splitRequirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

function parseKey(raw: string): { source: string | undefined; key: string } {
  const m = KEY.exec(raw.trim());
  if (!m) throw new Error(`invalid label key "${raw.trim()}"`);
  return { source: m[1], key: m[2]! };
}

function parseRequirement(text: string): Requirement {
  if (text.startsWith('!')) return { ...parseKey(text.slice(1)), op: 'absent', values: [] };
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (set) return { ...parseKey(set[1]!), op: set[2] as 'in' | 'notin', values: set[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '') };
  const cmp = /^([^!=]+?)\s*(==|!=|=)\s*(.*)$/.exec(text);
  if (cmp) {
    const value = cmp[3]!.trim();
    if (!/^[A-Za-z0-9_.-]*$/.test(value)) throw new Error(`invalid label value "${value}"`);
    return { ...parseKey(cmp[1]!), op: cmp[2] === '!=' ? 'notin' : 'in', values: [value] };
  }
  return { ...parseKey(text), op: 'exists', values: [] };
}

/** Splits `source:key=value` (source optional, value optional). */
function splitLabel(label: string): { source: string; key: string; value: string } {
  const eq = label.indexOf('=');
  const head = eq >= 0 ? label.slice(0, eq) : label;
  const value = eq >= 0 ? label.slice(eq + 1) : '';
  const colon = head.indexOf(':');
  return colon >= 0 ? { source: head.slice(0, colon), key: head.slice(colon + 1), value } : { source: 'unspec', key: head, value };
}
