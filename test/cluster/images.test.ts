import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeImages, IMAGE_NAMES, type ImageArchive, type NodeImageId } from '../../cluster/images/index.ts';
import { HOST_DASH, HOST_NETCAT } from '../../cluster/images/node-images.ts';
import { sharedLibraries } from '../../cluster/images/host-binaries.ts';
import { kubernetesSourceDir } from '../../cluster/images/kubernetes-source.ts';
import { staticProgram } from '../../cluster/images/static-programs.ts';
import { readOciArchive, type ReadOciArchive } from '../support/oci-reader.ts';
import { buildsGoImages, imageSkipReason } from '../support/node-images.ts';

const BUSYBOX_TOOLS = ['bin/sh', 'usr/bin/nc', 'sbin/ip', 'bin/ping', 'usr/bin/nslookup', 'bin/sleep', 'bin/cat', 'bin/ls'];

describe('node images', function () {
  this.timeout(buildsGoImages() ? 30 * 60_000 : 120_000);
  let cacheDir: string;
  const built = new Map<NodeImageId, ImageArchive>();

  before(() => (cacheDir = mkdtempSync(join(tmpdir(), 'images-'))));
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  /** The parsed archive of image `id`, built on first use; skips the test when its Go binary is not built. */
  async function image(ctx: Mocha.Context, id: NodeImageId): Promise<ReadOciArchive & { files: Map<string, ReadOciArchive['layer'][number]> }> {
    const reason = await imageSkipReason(id);
    if (reason) {
      console.log(`      skipped: ${reason}`);
      ctx.skip();
    }
    if (!built.has(id)) built.set(id, (await ensureNodeImages({ images: [id], cacheDir }))[0]!);
    const oci = readOciArchive(built.get(id)!.path);
    expect(oci.index.manifests.map((m) => m.annotations!['io.containerd.image.name'])).to.deep.equal(IMAGE_NAMES[id]);
    return { ...oci, files: new Map(oci.layer.map((m) => [m.path.replace(/\/$/, ''), m])) };
  }

  const expectBusybox = (files: Map<string, { type: string; linkname: string }>, tools = BUSYBOX_TOOLS) => {
    expect(files.get('bin/busybox')?.type).to.equal('file');
    for (const tool of tools) expect(files.get(tool), tool).to.include({ type: 'symlink', linkname: '/bin/busybox' });
    // wget is a script giving the -T option Debian's busybox parses but lacks (it crashes on it).
    expect(files.get('usr/bin/wget'), 'the wget script').to.include({ type: 'file', mode: 0o755 });
    expect(files.get('tmp')).to.include({ type: 'dir', mode: 0o1777 });
  };

  it('pause: our static /pause as entrypoint, nothing else', async function () {
    const oci = await image(this, 'pause');
    expect(oci.config.config.Entrypoint).to.deep.equal(['/pause']);
    expect([...oci.files.keys()]).to.deep.equal(['pause']);
    expect(oci.files.get('pause')).to.include({ mode: 0o755 });
  });

  it('busybox: a shell and the usual tools, root and nobody accounts, default command sh', async function () {
    const oci = await image(this, 'busybox');
    expectBusybox(oci.files);
    expect(oci.config.config.Cmd).to.deep.equal(['sh']);
    expect(oci.files.get('etc/passwd')!.content.toString()).to.match(/^root:x:0:0:/);
  });

  it('deathstar: our static /deathstar as entrypoint, with busybox', async function () {
    const oci = await image(this, 'deathstar');
    expect(oci.config.config.Entrypoint).to.deep.equal(['/deathstar']);
    expect(oci.files.get('deathstar')).to.include({ type: 'file', mode: 0o755 });
    expectBusybox(oci.files);
  });

  it('json-mock: busybox and curl with every shared library ldd names, waiting for SIGTERM by default', async function () {
    const oci = await image(this, 'json-mock');
    expectBusybox(oci.files);
    expect(oci.files.get('usr/bin/curl')).to.include({ type: 'file', mode: 0o755 });
    for (const lib of await sharedLibraries('/usr/bin/curl')) {
      expect(oci.files.get(lib.slice(1))?.content.equals(readFileSync(lib)), lib).to.equal(true);
    }
    expect(oci.config.config.Cmd).to.deep.equal(['/usr/local/bin/pause']);
  });

  it('agnhost: /agnhost, /agnhost-2, porter\'s TLS files, /uploads, the e2e suite\'s user and group, busybox, dash as /bin/sh, curl and OpenBSD netcat', async function () {
    const oci = await image(this, 'agnhost');
    expect(oci.config.config.Entrypoint).to.deep.equal(['/agnhost']);
    expect(oci.config.config.Cmd).to.deep.equal(['pause']);
    expect(oci.files.get('agnhost')).to.include({ type: 'file', mode: 0o755 });
    expect(oci.files.get('agnhost-2')).to.include({ type: 'symlink', linkname: 'agnhost' });
    expect(oci.files.get('localhost.crt')!.content.toString()).to.contain('BEGIN CERTIFICATE');
    expect(oci.files.get('localhost.key')!.content.toString()).to.contain('PRIVATE KEY');
    expect(oci.files.get('uploads')?.type).to.equal('dir');
    expect(oci.files.get('etc/passwd')!.content.toString()).to.contain('user-defined-in-image:x:1000:1000:');
    expect(oci.files.get('etc/group')!.content.toString()).to.contain('group-defined-in-image:x:50000:user-defined-in-image');
    expect(oci.files.get('usr/bin/curl')?.type).to.equal('file');
    expect(oci.files.get('usr/bin/nc')?.content.equals(readFileSync(HOST_NETCAT))).to.equal(true);
    expect(oci.files.get('bin/sh')?.content.equals(readFileSync(HOST_DASH))).to.equal(true);
    expectBusybox(oci.files, BUSYBOX_TOOLS.filter((t) => t !== 'usr/bin/nc' && t !== 'bin/sh'));
  });

  it('coredns: the built /coredns as entrypoint', async function () {
    const oci = await image(this, 'coredns');
    expect(oci.config.config.Entrypoint).to.deep.equal(['/coredns']);
    expect(oci.files.get('coredns')).to.include({ type: 'file', mode: 0o755 });
  });

  it('a second call reuses every cached archive', async function () {
    const ids = [...built.keys()];
    if (ids.length === 0) this.skip();
    const inodes = ids.map((id) => statSync(built.get(id)!.path).ino);
    const again = await ensureNodeImages({ images: ids, cacheDir });
    expect(again.map((a) => [a.id, a.path, a.reused])).to.deep.equal(ids.map((id) => [id, built.get(id)!.path, true]));
    expect(ids.map((id) => statSync(built.get(id)!.path).ino), 'the same files, not rewritten').to.deep.equal(inodes);
  });

  it('carries the tags upstream Kubernetes of the pinned version uses', async () => {
    const source = await kubernetesSourceDir();
    const manifest = readFileSync(join(source, 'test', 'utils', 'image', 'manifest.go'), 'utf8');
    expect(manifest).to.contain(`configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "${IMAGE_NAMES.agnhost[0]!.split(':')[1]}"}`);
    expect(manifest).to.contain(`configs[Pause] = Config{list.GcRegistry, "pause", "${IMAGE_NAMES.pause[0]!.split(':')[1]}"}`);
    expect(manifest).to.contain(`configs[BusyBox] = Config{list.PromoterE2eRegistry, "busybox", "${IMAGE_NAMES.busybox[1]!.split(':')[1]}"}`);
    const kubeadm = readFileSync(join(source, 'cmd', 'kubeadm', 'app', 'constants', 'constants.go'), 'utf8');
    expect(kubeadm).to.match(new RegExp(`CoreDNSVersion = "${IMAGE_NAMES.coredns[0]!.split(':')[1]}"`));
  });
});

describe('image programs', function () {
  let cacheDir: string;
  before(() => (cacheDir = mkdtempSync(join(tmpdir(), 'image-programs-'))));
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  const freePort = async () => {
    const s = createServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as { port: number }).port;
    s.close();
    return port;
  };

  it('deathstar answers landings, the exhaust port, its description and 404, and ends on SIGTERM', async () => {
    const port = await freePort();
    const server = spawn(await staticProgram('deathstar', cacheDir), [String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(server.stdout!, 'data');
      const url = `http://127.0.0.1:${port}`;
      const ask = async (method: string, path: string, body?: string) => {
        const r = await fetch(`${url}${path}`, { method, body });
        return [r.status, await r.text()];
      };
      expect(await ask('POST', '/v1/request-landing')).to.deep.equal([200, 'Ship landed\n']);
      expect(await ask('POST', '/v1/request-landing', 'x'.repeat(100_000))).to.deep.equal([200, 'Ship landed\n']);
      expect(await ask('PUT', '/v1/exhaust-port')).to.deep.equal([503, 'Panic: deathstar exploded\n']);
      const [status, text] = await ask('GET', '/');
      expect(status).to.equal(200);
      expect(JSON.parse(text as string)).to.include({ name: 'Death Star', model: 'DS-1 Orbital Battle Station' });
      expect(await ask('GET', '/v1/request-landing')).to.deep.equal([404, 'Not found\n']);
      expect(await ask('DELETE', '/')).to.deep.equal([404, 'Not found\n']);
    } finally {
      server.kill('SIGTERM');
      const [code] = await once(server, 'exit');
      expect(code).to.equal(0);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`pause sleeps until ${signal}, then exits 0`, async () => {
      const pause = spawn(await staticProgram('pause', cacheDir), [], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 200));
      expect(pause.exitCode).to.equal(null);
      pause.kill(signal);
      const [code] = await once(pause, 'exit');
      expect(code).to.equal(0);
    });
  }
});
