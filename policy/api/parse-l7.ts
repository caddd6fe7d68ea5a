/**
 * Parsing the L7 part of a port rule (`rules`: http, dns, kafka, l7proto + l7) and FQDN matchers.
 */
import { ErrorCollector, join } from './errors.ts';
import type { DnsRule, HttpRule, L7Rules } from './model.ts';

/** Upstream's pattern for `matchName`. */
export const MATCH_NAME_REGEX = /^([-a-zA-Z0-9_]+[.]?)+$/;
/** Upstream's pattern for `matchPattern`. */
export const MATCH_PATTERN_REGEX = /^([-a-zA-Z0-9_*]+[.]?)+$/;
const MAX_FQDN_LENGTH = 255;

function checkRegex(value: string | undefined, path: string, errs: ErrorCollector): void {
  if (value === undefined) return;
  try {
    new RegExp(value);
  } catch (err) {
    errs.add(path, `invalid regular expression: ${(err as Error).message}`);
  }
}

/** Parses a `{matchName | matchPattern}` object (toFQDNs items and DNS rules). */
export function parseDnsMatcher(raw: unknown, path: string, errs: ErrorCollector): DnsRule | undefined {
  const obj = errs.object(raw, path);
  if (!obj) {
    errs.add(path, 'must be an object with matchName or matchPattern');
    return undefined;
  }
  const matchName = errs.string(obj.matchName, join(path, 'matchName'));
  const matchPattern = errs.string(obj.matchPattern, join(path, 'matchPattern'));
  if (matchName === undefined && matchPattern === undefined) {
    errs.add(path, 'one of matchName or matchPattern is required');
    return undefined;
  }
  if (matchName !== undefined && matchPattern !== undefined) {
    errs.add(path, 'only one of matchName or matchPattern may be set');
    return undefined;
  }
  const [field, value, re] = matchName !== undefined
    ? ['matchName', matchName, MATCH_NAME_REGEX] as const
    : ['matchPattern', matchPattern!, MATCH_PATTERN_REGEX] as const;
  if (value.length > MAX_FQDN_LENGTH) errs.add(join(path, field), `longer than ${MAX_FQDN_LENGTH} characters`);
  else if (!re.test(value)) errs.add(join(path, field), `${JSON.stringify(value)} does not match ${re.source}`);
  return matchName !== undefined ? { matchName } : { matchPattern };
}

function parseHttp(raw: unknown, path: string, errs: ErrorCollector): HttpRule {
  const obj = errs.object(raw, path) ?? {};
  const method = errs.string(obj.method, join(path, 'method'));
  const p = errs.string(obj.path, join(path, 'path'));
  const host = errs.string(obj.host, join(path, 'host'));
  checkRegex(method, join(path, 'method'), errs);
  checkRegex(p, join(path, 'path'), errs);
  checkRegex(host, join(path, 'host'), errs);
  const headers = errs.strings(obj.headers, join(path, 'headers'));
  const headerMatches = errs.array(obj.headerMatches, join(path, 'headerMatches'));
  const rule: HttpRule = {
    ...(method !== undefined && { method }), ...(p !== undefined && { path: p }), ...(host !== undefined && { host }),
    ...(headers.length > 0 && { headers }), ...(headerMatches.length > 0 && { headerMatches }),
  };
  return rule;
}

/**
 * Parses `rules` of a port rule. Returns undefined when empty; records an error when more than
 * one L7 kind is present or `l7` lacks `l7proto`.
 */
export function parseL7Rules(raw: unknown, path: string, errs: ErrorCollector): L7Rules | undefined {
  const obj = errs.object(raw, path);
  if (!obj) return undefined;
  const http = errs.array(obj.http, join(path, 'http'));
  const dns = errs.array(obj.dns, join(path, 'dns'));
  const kafka = errs.array(obj.kafka, join(path, 'kafka'));
  const l7 = errs.array(obj.l7, join(path, 'l7'));
  const l7proto = errs.string(obj.l7proto, join(path, 'l7proto'));
  const kinds = [
    http.length > 0 && 'http', dns.length > 0 && 'dns', kafka.length > 0 && 'kafka', (l7.length > 0 || l7proto) && 'l7',
  ].filter((k): k is string => typeof k === 'string');
  if (kinds.length > 1) {
    errs.add(path, `multiple L7 protocol rule types (${kinds.join(', ')}) are not supported in one port rule`);
    return undefined;
  }
  if (l7.length > 0 && !l7proto) {
    errs.add(join(path, 'l7proto'), 'l7 rules require l7proto');
    return undefined;
  }
  if (http.length > 0) return { parser: 'http', http: http.map((h, i) => parseHttp(h, `${join(path, 'http')}[${i}]`, errs)) };
  if (dns.length > 0) {
    const rules = dns.map((d, i) => parseDnsMatcher(d, `${join(path, 'dns')}[${i}]`, errs)).filter((d) => d !== undefined);
    return { parser: 'dns', dns: rules };
  }
  if (kafka.length > 0) return { parser: 'kafka', kafka: kafka.map((k) => (errs.object(k, path) ?? {})) };
  if (l7proto) {
    const rules = l7.map((r, i) => {
      const o = errs.object(r, `${join(path, 'l7')}[${i}]`) ?? {};
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]));
    });
    return { parser: 'l7proto', l7proto, l7: rules };
  }
  return undefined;
}
