/** Where a real node (its own containerd and kubelet) keeps its files, all inside the node's folder. */
import { join } from 'node:path';

/** The files and folders of one node's container runtime and kubelet. */
export interface RuntimePaths {
  /** containerd's persistent root (images, snapshots, sandboxes' metadata). */
  containerdRoot: string;
  /** containerd's state folder (shm mounts, the pods' network namespaces, task state). */
  containerdState: string;
  containerdConfig: string;
  /** containerd's gRPC socket: what kubelet, `ctr` and the shims of this node talk to. */
  containerdSocket: string;
  /** runc's state root for this node's containers. */
  runcRoot: string;
  /** The CNI plugin binaries containerd may run (loopback and ciliate-cni, as links). */
  cniBinDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  podLogs: string;
}

/** The runtime paths of the node whose folder is `nodeDir`. */
export function runtimePaths(nodeDir: string): RuntimePaths {
  const containerd = join(nodeDir, 'containerd');
  return {
    containerdRoot: join(containerd, 'root'),
    containerdState: join(containerd, 'state'),
    containerdConfig: join(containerd, 'config.toml'),
    containerdSocket: join(containerd, 'containerd.sock'),
    runcRoot: join(containerd, 'runc'),
    cniBinDir: join(nodeDir, 'cni', 'bin'),
    kubeletRoot: join(nodeDir, 'kubelet'),
    kubeletConfig: join(nodeDir, 'kubelet.yaml'),
    podLogs: join(nodeDir, 'pod-logs'),
  };
}

/** The kubelet's cgroup root of a node (the same name in every v1 hierarchy and in the unified one). */
export function nodeCgroupRoot(node: string): string {
  return `/${node}`;
}
