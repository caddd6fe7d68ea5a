/**
 * The agent's policy API on its local API socket, as upstream's `GET /v1/policy` (the revision) and
 * what `cilium-dbg policy wait` does with it: `GET /v1/policy/wait?revision=N[&timeout=S]` answers
 * once the kernel holds revision N for every endpoint (200), or when the timeout (default 30 s, at
 * most 600) passes first (504).
 */
import type { Route } from '../runtime/http-endpoint.ts';
import { request } from 'node:http';
import type { PolicyRevisions, PolicyWaitResult } from './policy-revisions.ts';

/** The agent's local API socket in its `state-dir` (root only), serving these routes. */
export const AGENT_API_SOCKET = 'ciliate-api.sock';

/** The longest wait a request may ask for, in seconds. */
const MAX_WAIT_S = 600;
const DEFAULT_WAIT_S = 30;

const json = (status: number, body: unknown) => ({ status, type: 'application/json', body: JSON.stringify(body) + '\n' });

/** A non-negative integer query parameter, or an error naming it. */
function intParam(url: URL, name: string, fallback?: number): number | string {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback ?? `missing query parameter "${name}"`;
  const n = Number(raw);
  return /^\d+$/.test(raw) && Number.isSafeInteger(n) ? n : `query parameter "${name}" must be a non-negative integer, not "${raw}"`;
}

/** Routes `/v1/policy` and `/v1/policy/wait`. */
export function policyRoutes(revisions: PolicyRevisions): Record<string, Route> {
  return {
    '/v1/policy': async () => json(200, { revision: revisions.revision }),
    '/v1/policy/wait': async ({ url, signal }) => {
      const revision = intParam(url, 'revision');
      const timeout = intParam(url, 'timeout', DEFAULT_WAIT_S);
      if (typeof revision === 'string') return json(400, { error: revision });
      if (typeof timeout === 'string' || timeout > MAX_WAIT_S) return json(400, { error: typeof timeout === 'string' ? timeout : `query parameter "timeout" is at most ${MAX_WAIT_S}` });
      const result = await revisions.wait(revision, AbortSignal.any([signal, AbortSignal.timeout(timeout * 1000)]));
      if (!result) return json(504, { error: `revision ${revision} not in the kernel after ${timeout} s`, revision: revisions.revision });
      return json(200, result);
    },
  };
}

/** Asks the agent's API socket `socket` for `path`; resolves with the status and the parsed JSON body. */
export function askAgent<T>(socket: string, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
        } catch (err) {
          reject(new Error(`agent at ${socket} answered ${path} with no JSON: ${(err as Error).message}`));
        }
      });
    });
    req.on('error', (err) => reject(new Error(`cannot reach the agent at ${socket}: ${err.message}`)));
    req.end();
  });
}

/** The policy revision of the agent at `socket`. */
export async function policyRevisionOf(socket: string): Promise<number> {
  const { status, body } = await askAgent<{ revision?: number; error?: string }>(socket, '/v1/policy');
  if (status !== 200 || typeof body.revision !== 'number') throw new Error(`agent at ${socket}: ${body.error ?? `status ${status}`}`);
  return body.revision;
}

/** Waits until the agent at `socket` holds `revision` in the kernel for every endpoint; throws on timeout. */
export async function waitForPolicyRevision(socket: string, revision: number, timeoutS = DEFAULT_WAIT_S): Promise<PolicyWaitResult> {
  const { status, body } = await askAgent<PolicyWaitResult & { error?: string }>(socket, `/v1/policy/wait?revision=${revision}&timeout=${timeoutS}`);
  if (status !== 200) throw new Error(`agent at ${socket}: ${body.error ?? `status ${status}`}`);
  return body;
}
