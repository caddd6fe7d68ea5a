// `ciliate-agent` refuses what cannot work with one line naming the setting and exit code 2; on a
// node it cannot set up it stays, saying why in its log and its health endpoint.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/cluster.ts';
import { eventually } from '../nodes/helpers.ts';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const MAIN = join(REPO, 'agent', 'agent-main.ts');

/** A loopback port free right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

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

  /**
   * Runs the agent (behind `prefix`, e.g. setpriv) on a node it cannot set up, until its health
   * endpoint listens; hands `check` its log and /healthz answer, then stops it and expects exit 0.
   */
  async function held(prefix: string[], bpfRoot: string, check: (log: string, health: { status: number; body: { status?: string; reason?: string } }) => void): Promise<void> {
    const port = await freePort();
    const env = { ...process.env, K8S_NODE_NAME: 'n1', KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' };
    const argv = [process.execPath, '--import', 'tsx', MAIN, `--bpf-root=${bpfRoot}`, `--agent-health-port=${port}`, `--socket-path=${join(tmp, 'cilium.sock')}`];
    const all = [...prefix, ...argv];
    const child = spawn(all[0]!, all.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      await eventually(() => log.includes('health listening'), 'the health endpoint listens');
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      check(log, { status: res.status, body: (await res.json()) as { status?: string; reason?: string } });
      expect(readdirSync(tmp), 'no CNI socket, no pins').to.deep.equal([]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).to.equal(0);
  }

  it('holds on a node without a BPF filesystem at bpf-root: logs why, answers /healthz 503 with it, configures nothing, stops on SIGTERM', async () => {
    await held([], tmp, (log, health) => {
      expect(log).to.match(/node setup failed: bpf-root: .* is not a BPF filesystem/);
      expect(log).to.contain('not reported on the Node: no credentials');
      expect(health.status).to.equal(503);
      expect(health.body).to.deep.include({ status: 'failed' }).and.to.have.property('reason').that.matches(/bpf-root: .* is not a BPF filesystem/);
    });
  });

  it('holds when the kernel refuses its datapath (no CAP_BPF / CAP_SYS_ADMIN): logs the kernel\'s answer, /healthz 503, creates nothing under bpf-root', async () => {
    const bpfRoot = `/sys/fs/bpf/agent-main-${process.pid}-${Date.now()}`;
    // A real refusal by the kernel: the agent runs without the capabilities that let it load BPF.
    await held(['setpriv', '--bounding-set=-bpf,-sys_admin,-perfmon', '--inh-caps=-all', '--'], bpfRoot, (log, health) => {
      expect(log).to.match(/node setup failed: kernel: the kernel refused Ciliate's endpoint datapath: .*(not permitted|EPERM)/i);
      expect(health.status).to.equal(503);
      expect(health.body).to.have.property('reason').that.matches(/^kernel: the kernel refused/);
    });
    expect(existsSync(bpfRoot), 'nothing under bpf-root').to.equal(false);
  });

  it('exits 2 without a kubeconfig outside a pod', async () => {
    const r = await agent([]);
    expect(r.code).to.equal(2);
    expect(r.lines).to.have.length(1);
    expect(r.lines[0]).to.match(/^ciliate-agent: invalid setting k8s-kubeconfig-path: not set, and no in-cluster service account/);
  });
});
