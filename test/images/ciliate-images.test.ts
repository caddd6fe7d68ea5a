// Ciliate's own images (npm run images): built from the checkout without Docker, reproducible, and
// runnable by a real containerd: the agent bundle starts, its native datapath module loads with
// libbpf, the CNI plugin answers through its relay, the tools it runs are there; the operator and
// hubble-ui start.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImages, type BuiltImage } from '../../images/main.ts';
import { nodeCommand } from '../../images/node-flags.ts';
import { readOciArchive } from '../support/oci-reader.ts';
import { startThrowawayContainerd, type ThrowawayContainerd } from '../support/throwaway-containerd.ts';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe("Ciliate's images (agent, operator and hubble-ui)", function () {
  this.timeout(300_000);
  const out = mkdtempSync(join(tmpdir(), 'ciliate-images-'));
  let images: BuiltImage[] = [];
  let containerd: ThrowawayContainerd | undefined;
  const image = (id: string) => images.find((i) => i.id === id)!;
  const run = (id: string, cmd: string[]) => containerd!.runContainer(image(id).names[0]!, cmd);

  before(async () => {
    images = await buildImages(out);
    containerd = await startThrowawayContainerd();
    for (const i of images) {
      const r = await containerd.ctr(['images', 'import', i.path]);
      expect(r.code, r.stderr).to.equal(0);
    }
  });

  after(async () => {
    await containerd?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it('are reproducible: a second build writes the same bytes', async () => {
    const again = await buildImages(join(out, 'again'));
    for (const i of again) expect(sha(i.path), i.id).to.equal(sha(image(i.id).path));
  });

  it('carry an OCI index and a docker-save manifest naming the same config and layer', () => {
    for (const i of images) {
      const oci = readOciArchive(i.path);
      const docker = JSON.parse(oci.members.find((m) => m.path === 'manifest.json')!.content.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
      expect(docker).to.have.length(1);
      expect(docker[0]!.RepoTags).to.deep.equal(i.names);
      expect(docker[0]!.Config).to.equal(`blobs/sha256/${oci.manifest.config.digest.slice(7)}`);
      expect(docker[0]!.Layers).to.deep.equal(oci.manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`));
    }
  });

  it("agent: the entrypoint runs the bundle with the agent's Node.js flags (images/node-flags.ts)", () => {
    expect(readOciArchive(image('agent').path).config.config.Entrypoint).to.deep.equal(nodeCommand('/usr/bin/node', 'agent', '/opt/ciliate/agent.mjs'));
  });

  it('agent: the bundle starts without a TypeScript loader, reads its settings and says in one line what is wrong', async () => {
    // A setting it cannot use: a clear exit naming it, not a crash. (A node it cannot set up, such as
    // this bare container without a BPF filesystem, is held and reported instead: test/agent/agent-main.test.ts.)
    const r = await run('agent', ['/usr/bin/node', '/opt/ciliate/agent.mjs', '--cluster-id=300']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.deep.equal(['ciliate-agent: invalid setting cluster-id: 300 is outside 0..255']);
  });

  it("agent: the HTTP proxy's bundle, which the agent starts from beside its own, starts and checks its settings", async () => {
    const r = await run('agent', ['/usr/bin/node', '/opt/ciliate/http-proxy.mjs']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim()).to.match(/^ciliate-http-proxy: .*socket-path/);
  });

  it('agent: the native datapath module loads with libbpf, and the BPF objects are where it looks', async () => {
    const probe = "const m = require(process.env.CILIATE_DATAPATH_DIR + '/native/build/Release/ciliate_bpf.node'); console.log(typeof m.mapLookup, require('fs').readdirSync(process.env.CILIATE_DATAPATH_DIR + '/bpf/build').join(','))";
    const r = await run('agent', ['/usr/bin/node', '-e', probe]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^function .*endpoint\.bpf\.o.*sock\.bpf\.o/);
  });

  it("agent: the Hubble server's generated definitions travel inside the bundle, no .proto files beside it", async () => {
    const probe = "const b = require('fs').readFileSync('/opt/ciliate/agent.mjs', 'utf8'); console.log(b.includes('GetFlowsRequest'), require('fs').existsSync('/opt/ciliate/hubble'))";
    const r = await run('agent', ['/usr/bin/node', '-e', probe]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('true false');
  });

  it('agent: hubble-relay is a command on PATH that starts from its bundle and checks its settings', async () => {
    const version = await run('agent', ['hubble-relay', 'version']);
    expect(version.code, version.stderr).to.equal(0);
    expect(version.stdout).to.match(/^hubble-relay \S+/);
    const bad = await run('agent', ['hubble-relay', 'serve', '--sort-buffer-len-max=lots']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('sort-buffer-len-max');
  });

  it('agent: the CNI relay answers VERSION through its bundled fallback', async () => {
    const r = await run('agent', ['sh', '-c', `echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION timeout 20 /opt/ciliate/build/cni/ciliate-cni`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).supportedVersions).to.include('1.0.0');
  });

  it("agent: Debian's ip, iptables and mount run (the agent execs them directly, not through busybox's shell)", async () => {
    for (const [cmd, want] of [[['/usr/sbin/ip', '-V'], /iproute2/], [['/usr/sbin/iptables', '--version'], /iptables v1\./], [['/usr/sbin/iptables-restore', '--version'], /iptables-restore v1\./], [['/usr/bin/mount', '--version'], /util-linux/]] as const) {
      const r = await run('agent', [...cmd]);
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stdout + r.stderr).to.match(want);
    }
  });

  it('operator: the bundle starts and checks its settings', async () => {
    const r = await run('operator', ['/usr/bin/node', '/opt/ciliate/operator.mjs', '--no-such-setting=1']);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.contain('ciliate-operator: invalid setting no-such-setting');
  });

  it('hubble-ui: the bundle starts and asks for its Observer; its page is where it looks (the Hubble definitions are in the bundle)', async () => {
    const r = await run('hubble-ui', ['/usr/bin/node', '/opt/ciliate/hubble-ui.mjs']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim()).to.match(/^hubble-ui: --hubble-server: /);
    const files = await run('hubble-ui', ['/usr/bin/node', '-e', "const fs = require('fs'); console.log(fs.readdirSync(process.env.CILIATE_HUBBLE_UI_DIR, { recursive: true }).filter((f) => /\\.(html|js|css)$/.test(f)).length)"]);
    expect(files.stdout.trim(), files.stderr).to.equal('3');
  });

  it('are under the size goal (agent <= 250 MB unpacked)', () => {
    expect(image('agent').unpackedBytes).to.be.below(250e6);
  });
});
