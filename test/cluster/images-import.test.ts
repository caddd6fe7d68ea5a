import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import { ensureNodeImages, IMAGE_NAMES, NODE_IMAGES, type ImageArchive, type NodeImageId } from '../../cluster/images/index.ts';
import { startThrowawayContainerd, type ThrowawayContainerd } from '../support/throwaway-containerd.ts';
import { buildableImages, buildsGoImages, imageSkipReason } from '../support/node-images.ts';

/** What each image must do when run by containerd (ctr run replaces entrypoint and command): a command and what its output contains. */
const RUNS: Record<NodeImageId, { cmd: string[]; expect: string }> = {
  pause: { cmd: ['/pause', '-v'], expect: 'ciliate pause' },
  busybox: { cmd: ['sh', '-c', 'echo "shell works in $(pwd)"; id'], expect: 'shell works in /' },
  deathstar: {
    cmd: ['sh', '-c', '/deathstar 8080 >/dev/null & sleep 0.5; wget -q -O- --post-data= http://127.0.0.1:8080/v1/request-landing'],
    expect: 'Ship landed',
  },
  'json-mock': { cmd: ['curl', '--version'], expect: 'curl 7.' },
  // The shell must reach the image's netcat, not busybox's applet of the same name.
  agnhost: { cmd: ['sh', '-c', '/agnhost --help | grep -q netexec && nc -h 2>&1 | head -1'], expect: 'OpenBSD netcat' },
  coredns: { cmd: ['/coredns', '-version'], expect: 'CoreDNS-1.12.0' },
};

describe('node images in containerd (real ctr import and run)', function () {
  this.timeout(buildsGoImages() ? 30 * 60_000 : 180_000);
  let containerd: ThrowawayContainerd | undefined;
  let archives: ImageArchive[] = [];

  before(async function () {
    archives = await ensureNodeImages({ images: await buildableImages() });
    containerd = await startThrowawayContainerd();
  });

  after(async () => {
    await containerd?.stop();
  });

  for (const { id } of NODE_IMAGES) {
    it(`${id}: imports under ${IMAGE_NAMES[id].join(', ')} and runs`, async function () {
      const reason = await imageSkipReason(id);
      if (reason) {
        console.log(`      skipped: ${reason}`);
        this.skip();
      }
      const archive = archives.find((a) => a.id === id)!;
      const imported = await containerd!.ctr(['images', 'import', archive.path]);
      expect(imported.code, imported.stderr).to.equal(0);
      const listed = await containerd!.ctr(['images', 'ls', '-q']);
      expect(listed.stdout.split('\n')).to.include.members([...archive.names]);
      const ran = await containerd!.runContainer(archive.names[0]!, RUNS[id].cmd);
      expect(ran.code, ran.stderr + ran.stdout).to.equal(0);
      expect(ran.stdout + ran.stderr).to.contain(RUNS[id].expect);
    });
  }

  it('stop() leaves no container behind, not even one whose command never ended', async function () {
    const busybox = archives.find((a) => a.id === 'busybox');
    if (!busybox) this.skip();
    const own = await startThrowawayContainerd();
    let stopped = false;
    try {
      expect((await own.ctr(['images', 'import', busybox!.path])).code).to.equal(0);
      // As a test that times out leaves it: the command runs on while nobody waits for it.
      void own.runContainer(busybox!.names[0]!, ['sleep', '3600']);
      const cgroup = `/sys/fs/cgroup/pids/${own.dir.split('/').pop()}`;
      const running = () => (existsSync(cgroup) ? readdirSync(cgroup, { withFileTypes: true }).filter((e) => e.isDirectory()) : []);
      for (let i = 0; i < 100 && running().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(running(), 'the container runs').to.have.length(1);
      await own.stop();
      stopped = true;
      expect(existsSync(cgroup), 'its cgroups are gone').to.equal(false);
    } finally {
      if (!stopped) await own.stop();
    }
  });
});
