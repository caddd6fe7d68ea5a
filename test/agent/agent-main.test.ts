// `ciliate-agent` refuses what cannot work with one line naming the setting and exit code 2.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/cluster.ts';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const MAIN = join(REPO, 'agent', 'agent-main.ts');

describe('ciliate-agent start-up errors', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'agent-main-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs the agent with `args` and an environment without in-cluster credentials. */
  async function agent(args: string[]): Promise<{ code: number; lines: string[] }> {
    const env = { K8S_NODE_NAME: 'n1', KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' };
    const r = await runCommand(process.execPath, ['--import', 'tsx', MAIN, ...args], env);
    return { code: r.code, lines: r.stderr.trim().split('\n') };
  }

  it('exits 2 on an invalid value in the config directory, naming key and reason', async () => {
    writeFileSync(join(tmp, 'cluster-id'), '300');
    const r = await agent([`--config-dir=${tmp}`]);
    expect(r.code).to.equal(2);
    expect(r.lines).to.deep.equal(['ciliate-agent: invalid setting cluster-id: 300 is outside 0..255']);
    rmSync(join(tmp, 'cluster-id'));
  });

  it('exits 2 on an unknown flag', async () => {
    const r = await agent(['--enable-frobnication']);
    expect(r.code).to.equal(2);
    expect(r.lines).to.deep.equal(['ciliate-agent: invalid setting enable-frobnication: unknown flag']);
  });

  it('exits 2 when bpf-root is not on a BPF filesystem', async () => {
    const r = await agent([`--bpf-root=${tmp}`]);
    expect(r.code).to.equal(2);
    expect(r.lines).to.have.length(1);
    expect(r.lines[0]).to.match(/^ciliate-agent: invalid setting bpf-root: .* is not on a BPF filesystem/);
  });

  it('exits 2 without a kubeconfig outside a pod', async () => {
    const r = await agent([]);
    expect(r.code).to.equal(2);
    expect(r.lines).to.have.length(1);
    expect(r.lines[0]).to.match(/^ciliate-agent: invalid setting k8s-kubeconfig-path: not set, and no in-cluster service account/);
  });
});
