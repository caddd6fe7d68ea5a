/**
 * HTTP rules as the proxy enforces them (upstream's `rules.http`): `method`, `path` and `host` are
 * regular expressions that must match the whole value; `headers` entries are `Name` (present) or
 * `Name: value` (equal); `headerMatches` entries `{name, value, mismatch}` must match unless their
 * `mismatch` action (LOG, ADD, DELETE, REPLACE) says what to do instead. A request is allowed when
 * any rule of any merged rule set allows it, or when the entry also has an L4-only allow.
 */
import type { HttpRule, L7Rules } from '../../policy/api/model.ts';
import type { L7Redirect } from '../../policy/mapstate-types.ts';

/** The parts of a request the rules look at. */
export interface HttpRequestInfo {
  readonly method: string;
  /** The request target's path (with its query, as upstream's `:path`). */
  readonly path: string;
  readonly host: string;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** What a `headerMatches` mismatch asks for. */
export interface HeaderAction {
  readonly action: 'LOG' | 'ADD' | 'DELETE' | 'REPLACE';
  readonly name: string;
  readonly value: string;
}

/** The decision for one request. */
export interface HttpDecision {
  readonly allowed: boolean;
  /** The index of the rule that allowed it, within the flattened rules; -1: allow-all or denied. */
  readonly rule: number;
  /** Header changes the allowing rule's headerMatches ask for. */
  readonly actions: readonly HeaderAction[];
}

interface HeaderMatch {
  readonly name: string;
  readonly value: string | undefined;
  readonly mismatch: HeaderAction['action'] | undefined;
}

interface CompiledRule {
  readonly method?: RegExp;
  readonly path?: RegExp;
  readonly host?: RegExp;
  readonly headers: readonly { name: string; value: string | undefined }[];
  readonly headerMatches: readonly HeaderMatch[];
}

/** Compiled rules of one redirect entry. */
export interface HttpPolicy {
  readonly allowAll: boolean;
  readonly rules: readonly CompiledRule[];
}

function fullMatch(re: string | undefined, field: string): RegExp | undefined {
  if (re === undefined || re === '') return undefined;
  try {
    return new RegExp(`^(?:${re})$`);
  } catch (err) {
    throw new Error(`${field}: invalid regular expression: ${(err as Error).message}`, { cause: err });
  }
}

function headerMatchOf(raw: unknown, field: string): HeaderMatch {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw new Error(`${field}.name: required`);
  const mismatch = typeof o.mismatch === 'string' && o.mismatch !== '' ? o.mismatch.toUpperCase() : undefined;
  if (mismatch !== undefined && !['LOG', 'ADD', 'DELETE', 'REPLACE'].includes(mismatch)) throw new Error(`${field}.mismatch: unknown action ${mismatch}`);
  return { name: o.name.toLowerCase(), value: typeof o.value === 'string' ? o.value : undefined, mismatch: mismatch as HeaderMatch['mismatch'] };
}

function compileRule(r: HttpRule, field: string): CompiledRule {
  const headers = (r.headers ?? []).map((h) => {
    const i = h.indexOf(':');
    return i < 0 ? { name: h.trim().toLowerCase(), value: undefined } : { name: h.slice(0, i).trim().toLowerCase(), value: h.slice(i + 1).trim() };
  });
  const method = fullMatch(r.method, `${field}.method`);
  const path = fullMatch(r.path, `${field}.path`);
  const host = fullMatch(r.host, `${field}.host`);
  return {
    ...(method && { method }), ...(path && { path }), ...(host && { host }),
    headers, headerMatches: (r.headerMatches ?? []).map((m, i) => headerMatchOf(m, `${field}.headerMatches[${i}]`)),
  };
}

/** Compiles a redirect's HTTP rules; throws naming the field of an invalid one. */
export function compileHttpPolicy(redirect: Pick<L7Redirect, 'allowAll' | 'rules'>): HttpPolicy {
  const rules: CompiledRule[] = [];
  redirect.rules.forEach((set: L7Rules, s) => {
    if (set.parser !== 'http') return;
    set.http.forEach((r, i) => rules.push(compileRule(r, `rules[${s}].http[${i}]`)));
  });
  return { allowAll: redirect.allowAll || rules.length === 0, rules };
}

function headerValue(req: HttpRequestInfo, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function ruleAllows(r: CompiledRule, req: HttpRequestInfo): HeaderAction[] | undefined {
  if (r.method && !r.method.test(req.method)) return undefined;
  if (r.path && !r.path.test(req.path)) return undefined;
  if (r.host && !r.host.test(req.host)) return undefined;
  for (const h of r.headers) {
    const v = headerValue(req, h.name);
    if (v === undefined || (h.value !== undefined && v !== h.value)) return undefined;
  }
  const actions: HeaderAction[] = [];
  for (const m of r.headerMatches) {
    const v = headerValue(req, m.name);
    if (v !== undefined && (m.value === undefined || v === m.value)) continue;
    if (!m.mismatch) return undefined;
    actions.push({ action: m.mismatch, name: m.name, value: m.value ?? '' });
  }
  return actions;
}

/** Decides one request. */
export function decideHttp(policy: HttpPolicy, req: HttpRequestInfo): HttpDecision {
  for (let i = 0; i < policy.rules.length; i++) {
    const actions = ruleAllows(policy.rules[i]!, req);
    if (actions) return { allowed: true, rule: i, actions };
  }
  return { allowed: policy.allowAll, rule: -1, actions: [] };
}
