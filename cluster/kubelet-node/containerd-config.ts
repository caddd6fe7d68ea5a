/**
 * A node's containerd configuration: a private root, state folder, socket and runc root, so that
 * several nodes' runtimes coexist on one machine; pods' network namespaces mounted under the state
 * folder (not the machine-wide /var/run/netns), and CNI from the node's own folders. A node with a
 * mount namespace of its own (mount-ns.ts) uses the standard paths instead, which are its own there.
 */
import type { RuntimePaths } from './paths.ts';

/** The pause image every pod sandbox runs (built locally; see cluster/images). */
export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';

/** The TOML of a node's containerd (version 2 configuration of containerd 1.6); `ownMountNs`: standard CNI and netns paths. */
export function containerdConfig(p: RuntimePaths, cniConfDir: string, ownMountNs = false): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(p.containerdRoot)}
state = ${q(p.containerdState)}
[grpc]
  address = ${q(p.containerdSocket)}
[ttrpc]
  address = ${q(`${p.containerdSocket}.ttrpc`)}
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(`${p.containerdRoot}/opt`)}
  [plugins."io.containerd.grpc.v1.cri"]
    # Without this every sandbox fails here: the runtime may not lower its own oom_score_adj.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = ${!ownMountNs}
    sandbox_image = ${q(SANDBOX_IMAGE)}
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = ${q(ownMountNs ? '/opt/cni/bin' : p.cniBinDir)}
      conf_dir = ${q(ownMountNs ? '/etc/cni/net.d' : cniConfDir)}
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = ${q(p.runcRoot)}
`;
}
