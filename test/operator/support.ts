// Shared helpers of the operator's real-apiserver tests.
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ensureCrds, kubectl, testKubeConfig } from '../support/cluster.ts';
import { buildConfig, readConfigDir, SETTINGS } from '../../operator/config.ts';
import { buildOperator, type Operator } from '../../operator/operator.ts';
import { kubeRequester } from '../../runtime/kube.ts';
import type { KubeRequester } from '../../runtime/kube.ts';
import { createLogger } from '../../runtime/index.ts';

/** Repository root. */
export const ROOT = join(import.meta.dirname, '..', '..');

/** Runs kubectl and throws with its stderr on failure. */
export async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Applies objects given as JavaScript values (one kubectl call for all of them). */
export async function applyObjects(objects: unknown[]): Promise<void> {
  await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

/** Installs the cilium.io CRDs once per run and waits until each is Established. */
export const installCrds = ensureCrds;

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws naming `what`). */
export async function eventually<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A raw API requester for the test cluster. */
export async function testRequester(): Promise<KubeRequester> {
  return kubeRequester(await testKubeConfig());
}

/** Lists the items at an API path. */
export async function listItems<T>(request: KubeRequester, path: string): Promise<T[]> {
  return (((await request({ method: 'GET', path })) as { items?: T[] }).items ?? []);
}

/** A Node object with an internal IP and the test's label. */
export function nodeObject(name: string, label: string, ip = '192.0.2.10'): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'ciliate-test': label } },
    status: { addresses: [{ type: 'InternalIP', address: ip }] },
  };
}

/** Settings every in-process test operator uses: loopback listeners on free ports, fast leader election. */
export const TEST_SETTINGS: Record<string, string> = {
  'operator-prometheus-serve-addr': '127.0.0.1:0',
  'operator-api-serve-addr': '127.0.0.1:0',
  'leader-election-lease-duration': '4s',
  'leader-election-renew-deadline': '3s',
  'leader-election-retry-period': '500ms',
  'k8s-namespace': 'default',
  'identity-gc-interval': '0',
  'endpoint-gc-interval': '0',
};

/** An operator running in this process, and how to stop it. */
export interface RunningOperator {
  operator: Operator;
  stop(): Promise<void>;
}

/**
 * Starts an in-process operator with `settings` over the defaults and {@link TEST_SETTINGS}; with
 * `config-dir` set, the directory's files sit between the defaults and the rest (and are re-read on reload).
 */
export async function startOperator(settings: Record<string, string>): Promise<RunningOperator> {
  setMaxListeners(100); // as operator/main.ts does: many runnables listen on the same stop signals
  const kc: KubeConfig = await testKubeConfig();
  const dir = settings['config-dir'];
  const compose = () => buildConfig({ ...SETTINGS, ...(dir ? readConfigDir(dir) : {}), ...TEST_SETTINGS, ...settings });
  const log = process.env.CILIATE_TEST_VERBOSE ? createLogger({ level: 'debug' }) : undefined;
  const operator = buildOperator(compose(), kc, { ...(log ? { log } : {}), reload: compose });
  const ctrl = new AbortController();
  const running = operator.run(ctrl.signal);
  running.catch(() => undefined);
  return {
    operator,
    async stop() {
      ctrl.abort();
      await running;
    },
  };
}

/** Fetches `http://127.0.0.1:<port><path>` and returns status and body. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}
