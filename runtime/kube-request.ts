// Raw JSON requests through client-node's HTTP stack (auth, TLS, proxies from the KubeConfig).
import { KubeApiError } from './api-errors.ts';
import {
  createConfiguration,
  HttpMethod,
  ServerConfiguration,
  type Configuration,
  type KubeConfig,
} from '@kubernetes/client-node';

/** One raw request: method, absolute API path, query parameters and optional JSON body. */
export interface KubeRequest {
  /** HTTP verb. */
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** API path such as `/api/v1/namespaces/x/pods`. */
  readonly path: string;
  /** Query parameters; undefined values are skipped. */
  readonly query?: Record<string, string | number | boolean | undefined>;
  /** Request body, sent as JSON. */
  readonly body?: unknown;
  /** Content type of the body; default `application/json` (use a PatchStrategy for PATCH). */
  readonly contentType?: string;
}

/** A function that performs {@link KubeRequest}s and returns the decoded JSON response. */
export type KubeRequester = (req: KubeRequest) => Promise<unknown>;

/**
 * Returns a requester bound to `kc`'s current cluster. Responses are plain JSON exactly as the
 * API server sent them (no model classes), which is what caches and patches want.
 */
export function kubeRequester(kc: KubeConfig): KubeRequester {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kube: no current cluster in KubeConfig');
  const config: Configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
  });
  return async (req) => {
    const ctx = config.baseServer.makeRequestContext(req.path, HttpMethod[req.method]);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v !== undefined) ctx.setQueryParam(k, String(v));
    }
    ctx.setHeaderParam('Accept', 'application/json');
    if (req.body !== undefined) {
      ctx.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(req.body));
    }
    await kc.applySecurityAuthentication(ctx);
    const res = await config.httpApi.send(ctx).toPromise();
    const text = await res.body.text();
    const body = parseBody(text);
    if (res.httpStatusCode < 200 || res.httpStatusCode > 299) {
      const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${res.httpStatusCode}`;
      throw new KubeApiError(res.httpStatusCode, `${req.method} ${req.path}: ${message}`, body);
    }
    return body;
  };
}

/** Decodes a response body: JSON when it parses, otherwise the raw text (e.g. "404 page not found"). */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Creates or updates an object with server-side apply as `fieldManager`, taking over conflicting fields. */
export async function serverSideApply(request: KubeRequester, path: string, body: unknown, fieldManager: string): Promise<void> {
  await request({ method: 'PATCH', path, query: { fieldManager, force: true }, body, contentType: 'application/apply-patch+yaml' });
}
