/** Helpers shared by the node tests: polling, pod lookups and the network namespaces on this machine. */
import { run } from '../../cluster/exec.ts';
import { nodesKubectl } from '../support/cluster.ts';

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(fn: () => T | Promise<T>, what: string, ms = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The subset of a Pod the tests read. */
export interface PodJson {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: {
    phase?: string; podIP?: string; podIPs?: { ip: string }[]; hostIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; state: Record<string, unknown> }[];
  };
}

/** Reads one JSON object with the node cluster's kubectl, or undefined if it does not exist. */
export async function getJson<T>(args: string[]): Promise<T | undefined> {
  const r = await nodesKubectl(['get', ...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

/** Applies a manifest; throws with kubectl's message on failure. */
export async function apply(manifest: unknown): Promise<void> {
  const r = await nodesKubectl(['apply', '-f', '-'], JSON.stringify(manifest));
  if (r.code !== 0) throw new Error(r.stderr);
}

/** A pod whose single container runs `command` (images are ignored by the node runner). */
export function commandPod(ns: string, name: string, command: string[], extra: { nodeName?: string; restartPolicy?: string; labels?: Record<string, string> } = {}): unknown {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, labels: extra.labels ?? { app: name } },
    spec: {
      ...(extra.nodeName ? { nodeName: extra.nodeName } : {}),
      restartPolicy: extra.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'main', image: 'ignored.invalid/none', command }],
    },
  };
}

/** Every network namespace name on this machine. */
export async function netnsNames(): Promise<string[]> {
  const out = await run('ip', ['-j', 'netns', 'list']).catch(() => '');
  return out.trim() ? (JSON.parse(out) as { name: string }[]).map((n) => n.name) : [];
}

/** Link names inside network namespace `netns`. */
export async function linksIn(netns: string): Promise<string[]> {
  const out = await run('ip', ['-n', netns, '-j', 'link', 'show']);
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}
