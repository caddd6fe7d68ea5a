// A node's own mount namespace (cluster/kubelet-node/mount-ns.ts): the chart's host paths are the
// node's folders inside it, /sys/fs/bpf is a BPF filesystem of its own (or an empty tmpfs for a node
// made without one), mounts made inside stay
// inside (and propagate between the node and its pods), and removing it leaves the machine as found.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeMountNs, nodeHostDir, nodeMountNs, removeNodeMountNs, MOUNT_NS_ROOT, NODE_HOST_DIRS } from '../../cluster/kubelet-node/mount-ns.ts';
import { runCommand } from '../support/cluster.ts';

describe('a node\'s own mount namespace', function () {
  this.timeout(30_000);
  const node = `mnt-test-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'ciliate-mntns-'));
  const missingBefore = NODE_HOST_DIRS.map(([h]) => h).filter((h) => !existsSync(h));
  const inNs = (script: string) => runCommand('nsenter', [`--mount=${nodeMountNs(node)}`, '--', 'sh', '-c', script]);

  after(async () => {
    await removeNodeMountNs(node);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the node\'s folders at the machine paths, with a BPF filesystem of its own', async () => {
    await createNodeMountNs(node, dir, undefined);
    writeFileSync(join(nodeHostDir(dir, '/etc/cni/net.d'), '05-cilium.conflist'), '{}');
    const r = await inNs('ls /etc/cni/net.d; stat -f -c %T /sys/fs/bpf; grep " / / " /proc/self/mountinfo');
    expect(r.code, r.stderr).to.equal(0);
    const [conf, fsType, root] = r.stdout.trim().split('\n');
    expect(conf).to.equal('05-cilium.conflist');
    expect(fsType).to.equal('bpf_fs');
    expect(root, 'shared inside, for kubelet\'s volume propagation').to.match(/shared:\d+/);
    expect(existsSync('/etc/cni/net.d/05-cilium.conflist'), 'not on the machine').to.equal(false);
  });

  it('keeps mounts made inside from the machine', async () => {
    const r = await inNs('mount -t tmpfs none /run/cilium && touch /run/cilium/inside && ls /run/cilium');
    expect(r.stdout.trim()).to.equal('inside');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(' /run/cilium ');
    expect(existsSync(join(nodeHostDir(dir, '/run/cilium'), 'inside'))).to.equal(false);
  });

  it('gives a node made without one an empty tmpfs at /sys/fs/bpf, not a BPF filesystem', async () => {
    const bare = `${node}-nobpf`;
    try {
      await createNodeMountNs(bare, join(dir, 'bare'), undefined, false);
      const r = await runCommand('nsenter', [`--mount=${nodeMountNs(bare)}`, '--', 'sh', '-c', 'stat -f -c %T /sys/fs/bpf; ls -A /sys/fs/bpf']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.equal('tmpfs');
    } finally {
      await removeNodeMountNs(bare);
    }
  });

  it('goes on removal, with the mount points it made', async () => {
    await removeNodeMountNs(node);
    expect(existsSync(nodeMountNs(node))).to.equal(false);
    // The last node namespace on the machine removes them (another cluster's may still be there).
    if (!existsSync(MOUNT_NS_ROOT)) for (const h of missingBefore) expect(existsSync(h), h).to.equal(false);
  });
});
