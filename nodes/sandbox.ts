/**
 * Pod sandboxes: a network namespace per pod (`<node netns>-p<hash of the pod UID>`), networked
 * by the CNI plugin, and a record on disk so a restarted runner can tear down what an earlier one
 * left behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { CniResult } from '../cni/spec.ts';
import { createNetns } from '../datapath/netns.ts';
import { deleteNetns, netnsPath } from '../cluster/nodes.ts';
import { elapsedMs } from '../runtime/elapsed.ts';
import type { Attachment, CniClient } from './cni-invoke.ts';

/** What a sandbox record holds. */
export interface SandboxRecord {
  podKey: string;
  uid: string;
  /** Network namespace name; absent for host-network pods. */
  netns?: string;
  attachment?: Attachment;
  cniResult?: CniResult;
  /** How long the namespace and CNI ADD took, in ms (for the log). */
  ms?: { netns: number; cni: number };
}

/** The network namespace name of the pod with `uid` on the node whose namespace is `nodeNetns`. */
export function podNetnsName(nodeNetns: string, uid: string): string {
  return `${nodeNetns}-p${createHash('sha256').update(uid).digest('hex').slice(0, 10)}`;
}

/** The folder of a pod's files (logs, sandbox record). */
export function podDir(nodeDir: string, pod: V1Pod): string {
  return join(nodeDir, 'pods', `${pod.metadata?.namespace}_${pod.metadata?.name}_${pod.metadata?.uid}`);
}

/** Creates the pod's namespace and calls CNI ADD; returns the record (also written to `dir`). */
export async function createSandbox(cni: CniClient, nodeNetns: string, pod: V1Pod, dir: string): Promise<SandboxRecord> {
  const uid = pod.metadata!.uid!;
  const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (pod.spec?.hostNetwork) return writeRecord(dir, { podKey, uid });
  const netns = podNetnsName(nodeNetns, uid);
  const t0 = performance.now();
  if (existsSync(netnsPath(netns))) await deleteNetns(netns);
  createNetns(netnsPath(netns));
  const tNetns = performance.now();
  const attachment: Attachment = {
    containerId: uid, netns: netnsPath(netns), ifName: 'eth0',
    args: {
      IgnoreUnknown: '1', K8S_POD_NAMESPACE: pod.metadata?.namespace ?? '', K8S_POD_NAME: pod.metadata?.name ?? '',
      K8S_POD_INFRA_CONTAINER_ID: uid, K8S_POD_UID: uid,
    },
  };
  const record = writeRecord(dir, { podKey, uid, netns, attachment });
  try {
    record.cniResult = await cni.add(attachment);
    record.ms = { netns: elapsedMs(t0, tNetns), cni: elapsedMs(tNetns) };
  } catch (err) {
    await destroySandbox(cni, record, dir).catch(() => undefined);
    throw err;
  }
  return writeRecord(dir, record);
}

/** CNI DEL (with the cached result), then deletes the namespace (killing what is left in it) and the folder. */
export async function destroySandbox(cni: CniClient, record: SandboxRecord, dir: string): Promise<void> {
  await releaseNetwork(cni, record, dir);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * CNI DEL (with the cached result) and deletion of the namespace, killing what is left in it; the
 * folder and its logs stay. Used for pods that finished (Succeeded/Failed) so they do not hold an
 * address until they are deleted. Repeating it is harmless.
 */
export async function releaseNetwork(cni: CniClient, record: SandboxRecord, dir: string): Promise<void> {
  let delError: unknown;
  if (record.attachment) {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await cni.del(record.attachment, record.cniResult);
        delError = undefined;
        break;
      } catch (err) {
        delError = err;
      }
    }
  }
  if (record.netns) await deleteNetns(record.netns);
  if (delError) throw delError;
  record.attachment = undefined;
  record.netns = undefined;
  if (existsSync(dir)) writeRecord(dir, record);
}

/** The sandbox records left under `nodeDir` (from a runner that stopped without cleaning up). */
export function leftoverSandboxes(nodeDir: string): { dir: string; record: SandboxRecord }[] {
  const root = join(nodeDir, 'pods');
  let dirs: string[];
  try {
    dirs = readdirSync(root);
  } catch {
    return [];
  }
  return dirs.flatMap((d) => {
    try {
      return [{ dir: join(root, d), record: JSON.parse(readFileSync(join(root, d, 'sandbox.json'), 'utf8')) as SandboxRecord }];
    } catch {
      return [];
    }
  });
}

function writeRecord(dir: string, record: SandboxRecord): SandboxRecord {
  writeFileSync(join(dir, 'sandbox.json'), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  return record;
}
