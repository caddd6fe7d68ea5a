/** Helpers shared by the node tests: polling, pod lookups and the network namespaces on this machine. */
import { run } from '../../runtime/exec.ts';
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

/** The shell image test pods run (Debian's busybox, built locally and imported into every real node). */
export const SHELL_IMAGE = 'docker.io/library/busybox:1.35';

/** A pod whose single container runs `command` in the shell image (the stand-in runner ignores images). */
export function commandPod(ns: string, name: string, command: string[], extra: { nodeName?: string; restartPolicy?: string; labels?: Record<string, string> } = {}): unknown {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, labels: extra.labels ?? { app: name } },
    spec: {
      ...(extra.nodeName ? { nodeName: extra.nodeName } : {}),
      restartPolicy: extra.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'main', image: SHELL_IMAGE, command }],
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

/** The pod CIDR the cluster gave node `name` (Node.spec.podCIDR: the controller manager's on real nodes). */
export async function nodePodCIDR(name: string): Promise<string> {
  const node = await getJson<{ spec: { podCIDR?: string } }>(['node', name]);
  if (!node?.spec.podCIDR) throw new Error(`node ${name} has no pod CIDR`);
  return node.spec.podCIDR;
}

/** An HTTP server pod on port 8080 answering `pong` (busybox httpd). */
export function httpServerPod(ns: string, name: string, extra: Parameters<typeof commandPod>[3] = {}): unknown {
  return commandPod(ns, name, ['sh', '-c', 'mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www'], extra);
}

/** A pod that fetches `url` once (busybox wget, 10 s limit) and ends Succeeded or Failed. */
export function httpClientPod(ns: string, name: string, url: string, nodeName: string): unknown {
  return commandPod(ns, name, ['wget', '-q', '-O', '-', '-T', '10', url], { nodeName, restartPolicy: 'Never' });
}

/** Waits until pod `name` in `ns` has Succeeded or Failed, and returns its phase. */
export async function finished(ns: string, name: string): Promise<string> {
  return eventually(async () => {
    const phase = (await getJson<PodJson>(['pod', name, '-n', ns]))?.status?.phase;
    return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
  }, `${name} to finish`);
}
