/** Where a local cluster keeps its files, and the rules for cluster names. */
import { join } from 'node:path';

/** The default cluster name. */
export const DEFAULT_CLUSTER = 'ciliate';

/** Root folder of all local clusters' state (overridable with CILIATE_STATE_DIR). */
export function stateRoot(): string {
  return process.env.CILIATE_STATE_DIR ?? '/var/lib/ciliate';
}

/** Throws unless `name` is a valid cluster name: it also names links, so it is short. */
export function checkClusterName(name: string): void {
  if (!/^[a-z][a-z0-9-]{0,10}$/.test(name)) {
    throw new Error(`cluster name "${name}" is invalid: use 1-11 lower-case letters, digits or '-', starting with a letter`);
  }
}

/** Files of one cluster. */
export interface ClusterPaths {
  dir: string;
  pki: string;
  logs: string;
  etcdData: string;
  state: string;
  kubeconfig: string;
  lock: string;
}

/** The files of the cluster called `name`. */
export function clusterPaths(name: string, root = stateRoot()): ClusterPaths {
  const dir = join(root, 'clusters', name);
  return {
    dir,
    pki: join(dir, 'pki'),
    logs: join(dir, 'logs'),
    etcdData: join(dir, 'etcd'),
    state: join(dir, 'state.json'),
    kubeconfig: join(dir, 'admin.kubeconfig'),
    lock: join(dir, 'up.lock'),
  };
}
