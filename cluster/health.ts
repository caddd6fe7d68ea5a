/** Polls a component's health URL until it answers 200. */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';

/** TLS material for probing: the CA to trust and an optional client certificate. */
export interface ProbeTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** One GET; resolves with the status code, or 0 when the connection fails. */
export function probe(url: string, tls: ProbeTls = {}, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts = {
      method: 'GET',
      timeout: timeoutMs,
      ...(u.protocol === 'https:'
        ? {
            ca: tls.ca ? readFileSync(tls.ca) : undefined,
            cert: tls.cert ? readFileSync(tls.cert) : undefined,
            key: tls.key ? readFileSync(tls.key) : undefined,
            rejectUnauthorized: Boolean(tls.ca),
          }
        : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls `url` until it answers 200, `gaveUp()` says stop, or `timeoutMs` passes. */
export async function waitHealthy(
  url: string, tls: ProbeTls, timeoutMs: number, gaveUp: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const why = gaveUp();
    if (why) throw new Error(why);
    if ((await probe(url, tls)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy within ${Math.round(timeoutMs / 1000)}s`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}
