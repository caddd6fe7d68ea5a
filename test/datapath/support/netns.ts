// A throwaway topology: two pod namespaces routed through a node namespace over veths. Nothing
// touches the host namespace's addresses or routes; destroy() removes everything (deleting a
// namespace removes its veths).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { native } from '../../../datapath/native.ts';

/** Runs a command, returning stdout; throws on failure. */
export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside a named namespace via nsenter (keeps /sys/fs/bpf visible). */
export function nsExec(ns: string, cmd: string, ...args: string[]): string {
  return sh('nsenter', `--net=/run/netns/${ns}`, cmd, ...args);
}

/** Spawns a long-running process inside a namespace. */
export function nsSpawn(ns: string, cmd: string, ...args: string[]): ChildProcess {
  return spawn('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], { stdio: 'ignore' });
}

/** A per-run suffix for namespace and link names, so parallel runs never meet. */
export function uniqueSuffix(): string {
  return `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Creates network namespaces `names`; returns what deletes them. On failure deletes those it made and throws. */
export function makeNamespaces(names: string[]): () => void {
  const created: string[] = [];
  const destroy = (): void => {
    for (const ns of created.reverse()) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
  };
  try {
    for (const ns of names) {
      sh('ip', 'netns', 'add', ns);
      created.push(ns);
    }
    return destroy;
  } catch (err) {
    destroy();
    throw err;
  }
}

/**
 * Moves the main thread into the network namespace at `nsPath` until the returned function moves it
 * back: for code under test that acts in "the current namespace" across awaits.
 */
export function enterNetns(nsPath: string): () => void {
  const self = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(nsPath, 'r');
  try {
    native().setNetns(target);
  } catch (err) {
    closeSync(self);
    throw err;
  } finally {
    closeSync(target);
  }
  return () => {
    try {
      native().setNetns(self);
    } finally {
      closeSync(self);
    }
  };
}

/** Names and addresses of one topology. */
export interface Topology {
  suffix: string;
  podA: string;
  podB: string;
  node: string;
  ipA: string;
  ipB: string;
  /** Host-side veths in the node namespace. */
  lxcA: string;
  lxcB: string;
  ifindexA: number;
  ifindexB: number;
  /** Path of the node namespace, for inNetns(). */
  nodePath: string;
  destroy(): void;
}

function ifindexOf(ns: string, dev: string): number {
  const j = JSON.parse(sh('ip', '-n', ns, '-j', 'link', 'show', dev)) as Array<{ ifindex: number }>;
  return j[0]!.ifindex;
}

/**
 * Creates pod A (10.231.1.2) and pod B (10.231.2.2) behind a node namespace that routes between
 * them: a new one, or the existing named namespace `node` (left in place; the pods' veths go with them).
 */
export function createTopology(existingNode?: string): Topology {
  const suffix = uniqueSuffix();
  const podA = `ciA${suffix}`, podB = `ciB${suffix}`, node = existingNode ?? `ciN${suffix}`;
  const lxcA = `lxa${suffix}`, lxcB = `lxb${suffix}`;
  const destroy = makeNamespaces(existingNode ? [podA, podB] : [node, podA, podB]);
  try {
    const pods: Array<[string, string, string, string]> = [[podA, lxcA, '10.231.1', 'a'], [podB, lxcB, '10.231.2', 'b']];
    for (const [ns, lxc, net] of pods) {
      sh('ip', '-n', node, 'link', 'add', lxc, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      sh('ip', '-n', node, 'addr', 'add', `${net}.1/24`, 'dev', lxc);
      sh('ip', '-n', node, 'link', 'set', lxc, 'up');
      sh('ip', '-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0');
      sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'route', 'add', 'default', 'via', `${net}.1`);
    }
    nsExec(node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    return {
      suffix, podA, podB, node, ipA: '10.231.1.2', ipB: '10.231.2.2', lxcA, lxcB,
      ifindexA: ifindexOf(node, lxcA), ifindexB: ifindexOf(node, lxcB), nodePath: `/run/netns/${node}`, destroy,
    };
  } catch (err) {
    destroy();
    throw err;
  }
}

/** True when a TCP connection from ns to ip:port completes within timeoutS seconds. */
export function tcpConnects(ns: string, ip: string, port: number, timeoutS = 1): boolean {
  try {
    nsExec(ns, 'nc', '-z', '-w', String(timeoutS), ip, String(port));
    return true;
  } catch {
    return false;
  }
}
