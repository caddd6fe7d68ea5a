/**
 * Hubble's HTTP filter fields over the L7 flows of the HTTP proxy, as upstream evaluates them:
 * `http_status_code` ("200" exactly, or "4+" / "40+" for codes starting with those digits),
 * `http_method` (case-insensitive), `http_path` and `http_url` (regular expressions searched in the
 * URL's path, or the whole URL), `http_header` (a recorded header with that key and value). Only
 * flows with `l7.http` match any of them.
 */
import type { Flow, FlowFilter } from './flow-types.ts';

/** Registers one field's check (the filter's `add`). */
type Add = <T>(field: keyof FlowFilter, build: (values: T[]) => (f: Flow) => boolean) => void;
/** Builds the error of a malformed value. */
type Fail = (field: string, message: string) => Error;

function regexes(field: string, values: string[], fail: Fail): RegExp[] {
  return values.map((v) => {
    try {
      return new RegExp(v);
    } catch (err) {
      throw fail(field, (err as Error).message);
    }
  });
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Adds the HTTP fields' checks. */
export function addHttpFilters(add: Add, fail: Fail): void {
  add<string>('http_status_code', (v) => {
    const tests = v.map((c) => {
      if (/^\d{3}$/.test(c)) return (code: string) => code === c;
      if (/^\d{1,2}\+$/.test(c)) return (code: string) => code.startsWith(c.slice(0, -1));
      throw fail('http_status_code', `"${c}" is neither a status code nor a prefix like "4+"`);
    });
    return (f) => f.l7?.http?.code !== undefined && f.l7.http.code !== 0 && tests.some((t) => t(String(f.l7!.http!.code)));
  });
  add<string>('http_method', (v) => {
    const methods = new Set(v.map((m) => m.toUpperCase()));
    return (f) => f.l7?.http?.method !== undefined && methods.has(f.l7.http.method.toUpperCase());
  });
  add<string>('http_path', (v) => {
    const res = regexes('http_path', v, fail);
    return (f) => f.l7?.http?.url !== undefined && res.some((re) => re.test(pathOf(f.l7!.http!.url!)));
  });
  add<string>('http_url', (v) => {
    const res = regexes('http_url', v, fail);
    return (f) => f.l7?.http?.url !== undefined && res.some((re) => re.test(f.l7!.http!.url!));
  });
  add<{ key?: string; value?: string }>('http_header', (v) => (f) =>
    v.some((h) => (f.l7?.http?.headers ?? []).some((x) => x.key.toLowerCase() === (h.key ?? '').toLowerCase() && x.value === (h.value ?? ''))));
}
