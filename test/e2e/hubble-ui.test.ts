// The service map (hubble/ui/) in Debian's headless Chromium, against a real agent's Hubble socket on
// the shared cluster of real (kubelet) nodes: a client, a friend and a stranger pod on the first
// node, a two-replica server Deployment behind a Service on the second; a CiliumNetworkPolicy denies
// the client, allows the friend and says nothing of the stranger. The page must show the workloads
// and the Service, a green edge for the allowed traffic and red ones for the denied traffic, each
// explained: by its deny rule, or as default deny; the screenshot is kept in test/artifacts/.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { hubbleSocketPath } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints, type PodEndpoint } from '../../cluster/pods.ts';
import { REPO_ROOT } from '../../images/repo.ts';
import { chromiumAvailable, launchChromium } from '../support/chromium.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { serverIngressPolicy } from '../support/hubble-flows.ts';
import { tcpConnect as connect } from '../support/tcp-programs.ts';

const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
const BUSYBOX = 'docker.io/library/busybox:1.35';
const uniq = Math.random().toString(36).slice(2, 6);
const NS = `ui-${uniq}`;
const ARTIFACTS = join(REPO_ROOT, 'test', 'artifacts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `hubble-ui` (the real entry) on a free loopback port; resolves with the process and its port. */
function startUi(args: string[]): Promise<{ proc: ChildProcess; port: number; log: () => string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'hubble/ui/main.ts'), '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hubble-ui did not start:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"hubble-ui listening"'));
      if (line) {
        clearTimeout(timer);
        resolve({ proc, port: (JSON.parse(line) as { port: number }).port, log: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`hubble-ui exited ${code}:\n${out}`)));
  });
}

describe('Hubble UI: the service map in headless Chromium, on real pods', function () {
  this.timeout(300_000);
  let c: RunningCluster;
  let n0: NodeConfig;
  let n1: NodeConfig;
  let client: PodEndpoint;
  let friend: PodEndpoint;
  let stranger: PodEndpoint;
  let vip: string;
  let ui: { proc: ChildProcess; port: number; log: () => string } | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

  const kubectl = async (args: string[], input?: string) => {
    const r = await runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const apply = (obj: object) => kubectl(['apply', '-f', '-'], JSON.stringify(obj));
  /** One connection to the Service from the client (denied), the friend (allowed) and the stranger (default deny). */
  const traffic = async () => [await connect(client.netns, vip, 80), await connect(friend.netns, vip, 80), await connect(stranger.netns, vip, 80)];

  before(async function () {
    if (!chromiumAvailable()) this.skip();
    c = await testRealNodesCluster();
    [n0, n1] = c.config.nodes as [NodeConfig, NodeConfig];
    await kubectl(['create', 'namespace', NS]);
    const pod = (name: string) => apply({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name } },
      spec: { nodeName: n0.name, containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'] }] },
    });
    await pod('client');
    await pod('friend');
    await pod('stranger');
    await apply({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'server', namespace: NS },
      spec: {
        replicas: 2, selector: { matchLabels: { app: 'server' } },
        template: {
          metadata: { labels: { app: 'server' } },
          spec: { nodeName: n1.name, containers: [{ name: 's', image: AGNHOST, args: ['netexec', '--http-port=8080'] }] },
        },
      },
    });
    await apply({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'server', namespace: NS },
      spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await apply(serverIngressPolicy(NS));
    await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod', '--all', '--timeout=180s']);
    await kubectl(['rollout', 'status', '-n', NS, 'deployment/server', '--timeout=180s']);
    const ep = (name: string) => podEndpoints(c.config).find((p) => p.namespace === NS && p.name === name);
    for (let i = 0; i < 50 && !(ep('client') && ep('friend') && ep('stranger')); i++) await sleep(200);
    [client, friend, stranger] = [ep('client')!, ep('friend')!, ep('stranger')!];
    vip = (await kubectl(['get', 'svc', '-n', NS, 'server', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    let [denied, allowed, unknown] = ['', '', ''];
    const enforced = () => denied.startsWith('error') && allowed === 'ok' && unknown.startsWith('error');
    for (let i = 0; i < 30 && !enforced(); i++) {
      [denied = '', allowed = '', unknown = ''] = await traffic();
      if (!enforced()) await sleep(500);
    }
    expect(denied, 'client denied').to.match(/^error/);
    expect(allowed, 'friend allowed').to.equal('ok');
    expect(unknown, 'stranger denied').to.match(/^error/);
    // The server pods' node sees both: the client's drops and the friend's forwarded flows.
    ui = await startUi(['--hubble-server', `unix://${hubbleSocketPath(n1)}`, '--kubeconfig', c.kubeconfig]);
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    ui?.proc.kill('SIGTERM');
    if (c) await runCommand(join(c.binDir, 'kubectl'), ['delete', 'namespace', NS, '--wait=false'], { KUBECONFIG: c.kubeconfig });
  });

  it('draws the workloads and the Service, a green edge for the allowed flow and a red one explained by its rule', async function () {
    const page: Page = await browser!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${ui!.port}/?namespace=${NS}`);
    await traffic(); // live flows, while the page follows
    const node = (id: string) => page.locator(`g.node-card[data-id="${id}"]`);
    for (const id of [`${NS}/client`, `${NS}/friend`, `${NS}/stranger`, `${NS}/server`, `service:${NS}/server`]) await node(id).waitFor({ timeout: 30_000 });
    expect(await node(`${NS}/server`).textContent()).to.include('2 pods');
    expect(await node(`service:${NS}/server`).getAttribute('data-kind')).to.equal('service');
    expect(await page.locator('#namespace').inputValue()).to.equal(NS);

    const green = page.locator(`g.edge[data-from="${NS}/friend"][data-to="service:${NS}/server"][data-verdict="FORWARDED"]`);
    const red = page.locator(`g.edge[data-from="${NS}/client"][data-to="service:${NS}/server"][data-verdict="DROPPED"]`);
    await green.waitFor();
    await red.waitFor();
    expect(await green.locator('path.line').getAttribute('stroke')).to.equal('#1f9d55');
    expect(await red.locator('path.line').getAttribute('stroke')).to.equal('#d93a3a');
    expect(await red.textContent()).to.include('TCP 8080');
    expect(await page.locator(`g.edge[data-from="service:${NS}/server"][data-to="${NS}/server"][data-verdict="DROPPED"]`).count()).to.equal(1);
    expect(await page.locator(`g.edge[data-from="${NS}/friend"][data-verdict="DROPPED"]`).count(), 'the friend is never dropped').to.equal(0);
    expect(await page.locator(`g.edge[data-from="${NS}/client"][data-verdict="FORWARDED"]`).count(), 'the client is never forwarded').to.equal(0);

    // force: a straight edge's box has no height, which Playwright takes for invisible; the pointer still lands on its stroke.
    await red.locator('path.hit').click({ force: true });
    const details = page.locator('#details');
    expect(await details.locator('.rule').getAttribute('data-verdict')).to.equal('DROPPED');
    const why = await details.textContent();
    expect(why).to.include(`${NS}/client → ${NS}/server`);
    expect(why).to.include('Drop reason: POLICY_DENY');
    expect(why).to.include(`Rule: denied by CiliumNetworkPolicy ${NS}/server-ingress`);
    await green.locator('path.hit').hover({ force: true });
    expect(await details.textContent()).to.include(`allowed by CiliumNetworkPolicy ${NS}/server-ingress`);
    const defaultDeny = page.locator(`g.edge[data-from="${NS}/stranger"][data-to="service:${NS}/server"][data-verdict="DROPPED"]`);
    await defaultDeny.locator('path.hit').hover({ force: true });
    const strangerWhy = await details.textContent();
    expect(strangerWhy, strangerWhy ?? '').to.include('Drop reason: POLICY_DENIED').and.include('Rule: no rule allowed it (default deny)');

    const dropRow = page.locator('#flows tbody tr[data-verdict="DROPPED"]', { hasText: `${NS}/client` }).first();
    expect(await dropRow.textContent()).to.include('POLICY_DENY').and.include(`denied by CiliumNetworkPolicy ${NS}/server-ingress`).and.include(n1.name);
    expect(await page.locator('#flows tbody tr[data-verdict="FORWARDED"]').count()).to.be.greaterThan(0);

    await red.locator('path.hit').click({ force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'hubble-ui.png');
    await page.screenshot({ path: shot });
    console.log(`      screenshot: ${shot}`);
    expect(errors, 'page errors and console errors').to.deep.equal([]);
  });

  it('the namespaces endpoint lists the test namespace; a bad query is refused', async function () {
    const ns = await fetch(`http://127.0.0.1:${ui!.port}/api/namespaces`).then((r) => r.json()) as { namespaces: string[] };
    expect(ns.namespaces).to.include(NS);
    const bad = await fetch(`http://127.0.0.1:${ui!.port}/api/flows?last=-1`);
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.match(/^last:/);
  });
});
