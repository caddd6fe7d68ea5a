import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rootfs } from '../../cluster/images/rootfs.ts';
import { ociArchive, MEDIA_TYPE } from '../../cluster/images/oci-layout.ts';
import { cachedFile, STALE_AFTER_MS } from '../../cluster/images/content-cache.ts';
import { readOciArchive } from '../support/oci-reader.ts';
import { runCommand } from '../support/cluster.ts';

const LONG_DIR = `/opt/${'deep/'.repeat(25)}folder`;
const LONG_TARGET = `/${'target-'.repeat(20)}end`;

function sampleRootfs(toolContent = 'tool v1'): Rootfs {
  return new Rootfs()
    .file('/bin/tool', toolContent, 0o755)
    .symlink('/bin/alias', 'tool')
    .dir('/tmp', 0o1777)
    .file(`${LONG_DIR}/${'n'.repeat(120)}.txt`, 'long path')
    .symlink('/etc/long-link', LONG_TARGET)
    .file('/etc/a-b', 'sorts after /etc/a but before /etc/a/...')
    .file('/etc/a/c', 'child');
}

const NAMES = ['example.test/team/tool:1.0', 'example.test/team/tool:stable'];

describe('image archives (OCI image layout)', function () {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'images-layout-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = async (name: string, archive: ReturnType<typeof ociArchive>) => {
    const file = await cachedFile(dir, name, archive.contentKey, '.tar', () => archive.chunks);
    return file.path;
  };

  it('holds oci-layout, an index naming the manifest once per name, and config, manifest and layer blobs that match their digests', async () => {
    const path = await write('sample', ociArchive(NAMES, sampleRootfs(), { entrypoint: ['/bin/tool'], cmd: ['serve'], exposedPorts: ['80/tcp'] }));
    const oci = readOciArchive(path);
    expect(oci.layout).to.deep.equal({ imageLayoutVersion: '1.0.0' });
    expect(oci.index.mediaType).to.equal(MEDIA_TYPE.index);
    expect(oci.index.manifests.map((m) => m.annotations)).to.deep.equal([
      { 'io.containerd.image.name': 'example.test/team/tool:1.0', 'org.opencontainers.image.ref.name': '1.0' },
      { 'io.containerd.image.name': 'example.test/team/tool:stable', 'org.opencontainers.image.ref.name': 'stable' },
    ]);
    expect(oci.index.manifests.every((m) => m.mediaType === MEDIA_TYPE.manifest && m.platform?.os === 'linux' && m.platform.architecture === 'amd64')).to.equal(true);
    expect(oci.manifest.config.mediaType).to.equal(MEDIA_TYPE.config);
    expect(oci.manifest.layers[0]!.mediaType).to.equal(MEDIA_TYPE.layer);
    expect(oci.config.rootfs).to.deep.equal({ type: 'layers', diff_ids: [oci.manifest.layers[0]!.digest] });
    expect(oci.config.config.Entrypoint).to.deep.equal(['/bin/tool']);
    expect(oci.config.config.Cmd).to.deep.equal(['serve']);
    expect(oci.config.config.ExposedPorts).to.deep.equal({ '80/tcp': {} });
    expect(oci.config.config.Env![0]).to.match(/^PATH=.*\/bin/);
    expect(oci.config.created).to.equal('1970-01-01T00:00:00Z');
  });

  it('lays the layer out parents first in byte order, owned by root, mtime 0, with modes, links and long paths kept', async () => {
    const { layer } = readOciArchive(await write('sample', ociArchive(NAMES, sampleRootfs(), {})));
    const paths = layer.map((m) => m.path);
    const bare = paths.map((p) => p.replace(/\/$/, ''));
    expect(bare).to.deep.equal([...bare].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(paths.slice(0, 3)).to.deep.equal(['bin/', 'bin/alias', 'bin/tool']);
    expect(paths).to.include.members(['etc/', 'etc/a/', 'etc/a/c', 'etc/a-b', 'opt/', 'tmp/', `${LONG_DIR.slice(1)}/${'n'.repeat(120)}.txt`]);
    for (const m of layer) expect([m.uid, m.gid, m.uname, m.gname, m.mtime], m.path).to.deep.equal([0, 0, 'root', 'root', 0]);
    const byPath = new Map(layer.map((m) => [m.path, m]));
    expect(byPath.get('bin/tool')).to.include({ type: 'file', mode: 0o755 });
    expect(byPath.get('bin/tool')!.content.toString()).to.equal('tool v1');
    expect(byPath.get('bin/alias')).to.include({ type: 'symlink', linkname: 'tool' });
    expect(byPath.get('tmp/')).to.include({ type: 'dir', mode: 0o1777 });
    expect(byPath.get('etc/long-link')).to.include({ type: 'symlink', linkname: LONG_TARGET });
  });

  it('is read the same by GNU tar', async () => {
    const oci = readOciArchive(await write('sample', ociArchive(NAMES, sampleRootfs(), {})));
    const layerFile = join(dir, 'layer.tar');
    writeFileSync(layerFile, oci.members.find((m) => m.path === `blobs/sha256/${oci.manifest.layers[0]!.digest.slice(7)}`)!.content);
    const listed = await runCommand('tar', ['-tf', layerFile]);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout.trim().split('\n')).to.deep.equal(oci.layer.map((m) => m.path));
    const verbose = await runCommand('tar', ['-tvf', layerFile, 'etc/long-link']);
    expect(verbose.stdout).to.contain(`-> ${LONG_TARGET}`);
  });

  it('gives the same bytes for the same inputs, and another content key when any input differs', () => {
    const bytes = (a: ReturnType<typeof ociArchive>) => Buffer.concat(a.chunks);
    const a = ociArchive(NAMES, sampleRootfs(), { cmd: ['x'] });
    const b = ociArchive(NAMES, sampleRootfs(), { cmd: ['x'] });
    expect(bytes(a).equals(bytes(b))).to.equal(true);
    expect(a.contentKey).to.equal(b.contentKey);
    const keys = [
      ociArchive(NAMES, sampleRootfs('tool v2'), { cmd: ['x'] }),
      ociArchive(NAMES, sampleRootfs(), { cmd: ['y'] }),
      ociArchive([NAMES[0]!], sampleRootfs(), { cmd: ['x'] }),
    ].map((x) => x.contentKey);
    expect(new Set([a.contentKey, ...keys]).size).to.equal(4);
  });

  it('reuses a cached archive of the same key, keeps another key while in use and removes it once stale', async () => {
    const cacheDir = join(dir, 'cache');
    const archive = ociArchive(NAMES, sampleRootfs(), {});
    const first = await cachedFile(cacheDir, 'tool', archive.contentKey, '.tar', () => archive.chunks);
    const content = readFileSync(first.path);
    let produced = false;
    const second = await cachedFile(cacheDir, 'tool', archive.contentKey, '.tar', () => ((produced = true), archive.chunks));
    expect(second).to.deep.equal({ path: first.path, reused: true });
    expect(produced).to.equal(false);
    expect(readFileSync(second.path).equals(content)).to.equal(true);
    expect(first.reused).to.equal(false);
    const changed = ociArchive(NAMES, sampleRootfs('tool v2'), {});
    const third = await cachedFile(cacheDir, 'tool', changed.contentKey, '.tar', () => changed.chunks);
    expect(third.path).to.not.equal(first.path);
    expect(readdirSync(cacheDir).sort(), 'a key used recently stays (another cluster may import it)').to.deep.equal([first.path, third.path].map((p) => p.split('/').pop()).sort());
    expect(readFileSync(third.path).equals(Buffer.concat(changed.chunks))).to.equal(true);
    const longAgo = new Date(Date.now() - STALE_AFTER_MS - 60_000);
    utimesSync(first.path, longAgo, longAgo);
    const fourth = await cachedFile(cacheDir, 'tool', ociArchive(NAMES, sampleRootfs('tool v3'), {}).contentKey, '.tar', () => changed.chunks);
    expect(readdirSync(cacheDir).sort(), 'the stale key is removed').to.deep.equal([third.path, fourth.path].map((p) => p.split('/').pop()).sort());
  });

  it('rejects bad input with the field and reason', () => {
    expect(() => ociArchive(['example.test/tool'], sampleRootfs(), {})).to.throw('image name "example.test/tool" is invalid');
    expect(() => ociArchive(['localhost:5000/tool'], sampleRootfs(), {})).to.throw('image name "localhost:5000/tool" is invalid');
    expect(() => ociArchive(NAMES, sampleRootfs(), { exposedPorts: ['80'] })).to.throw('exposed port "80" is invalid');
    expect(() => sampleRootfs().file('/bin/tool', 'again')).to.throw('image path /bin/tool is added twice');
    expect(() => sampleRootfs().file('/bin/alias/x', 'under a link')).to.throw('/bin/alias is not a directory');
    expect(() => new Rootfs().file('/a/../b', 'x')).to.throw('image path "/a/../b" is invalid');
  });
});
