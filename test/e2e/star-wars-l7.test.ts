// Upstream's star-wars L7 demo on the shared two-node cluster of real (kubelet) nodes: the app and
// upstream's sw_l3_l4_l7_policy.yaml, unchanged, in a namespace of the test's own. The deathstar's
// HTTP requests go through each node's proxy (the datapath hands them over transparently): the
// tiefighter lands (POST /v1/request-landing), its PUT /v1/exhaust-port gets upstream's 403
// "Access denied", on a pod of either node and through the Service, also on one kept-alive
// connection; the xwing is dropped at L3/L4 in the kernel. Each request and response is an L7 flow
// in the agent's Hubble, which the upstream hubble CLI shows with `--type l7`. The xwing's egress HTTP
// rules go through its node's proxy; with the deathstar's ingress HTTP rules as well, both judge each
// request, on the xwing's own node (its egress proxy judges both) as across nodes (two proxies chained).
import { expect } from 'chai';
import { join } from 'node:path';
import { hubbleSocketPath } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { NodeConfig } from '../../cluster/node-config.ts';
import { podEndpoints } from '../../cluster/pods.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { ensureHubbleCli, hubble, jsonLines } from '../support/hubble-cli.ts';
import { keepAliveClient } from '../support/keep-alive-client.ts';

const NS = `sw-l7-${Math.random().toString(36).slice(2, 6)}`;
const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'star-wars');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('star-wars L7 policy on real pods: HTTP through the node proxies', function () {
  this.timeout(600_000);
  let c: RunningCluster;
  let deathstars: { ip: string; node: string }[] = [];

  const kubectl = (args: string[]) => runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig });
  /** curl in a ship; the answer, or `exit N` when curl failed (28: no answer in time). */
  const curl = async (ship: string, ...args: string[]) => {
    const r = await kubectl(['exec', '-n', NS, ship, '--', 'curl', '-s', '-m', '4', ...args]);
    return r.code === 0 ? r.stdout : `exit ${/exit code (\d+)/.exec(r.stderr)?.[1] ?? r.code}`;
  };

  before(async () => {
    c = await testRealNodesCluster();
    expect((await kubectl(['create', 'namespace', NS])).code).to.equal(0);
    const app = await kubectl(['apply', '-n', NS, '-f', join(EXAMPLES, 'http-sw-app.yaml')]);
    expect(app.code, app.stderr).to.equal(0);
    const ready = await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod', '--all', '--timeout=180s']);
    expect(ready.code, ready.stderr).to.equal(0);
    deathstars = podEndpoints(c.config).filter((p) => p.namespace === NS && p.name.startsWith('deathstar')).map((p) => ({ ip: p.ip, node: p.node }));
    expect(deathstars).to.have.length(2);
    const policy = await kubectl(['apply', '-n', NS, '-f', join(EXAMPLES, 'sw_l3_l4_l7_policy.yaml')]);
    expect(policy.code, policy.stderr).to.equal(0);
    // The policy reaches both agents' maps and proxies: the PUT is denied on every deathstar.
    for (const d of deathstars) {
      let answer = '';
      for (let i = 0; i < 40 && answer !== 'Access denied\r\n'; i++) {
        answer = await curl('tiefighter', '-XPUT', `http://${d.ip}/v1/exhaust-port`);
        if (answer !== 'Access denied\r\n') await sleep(500);
      }
      expect(answer, `PUT on ${d.node}`).to.equal('Access denied\r\n');
    }
  });

  after(async () => {
    if (c) await kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('lands the tiefighter and denies its exhaust-port PUT with 403 "Access denied", on each node\'s deathstar and through the Service', async () => {
    const service = `http://deathstar.${NS}.svc.cluster.local`;
    for (const base of [...deathstars.map((d) => `http://${d.ip}`), service]) {
      expect(await curl('tiefighter', '-XPOST', `${base}/v1/request-landing`), base).to.equal('Ship landed\n');
      expect(await curl('tiefighter', '-XPUT', `${base}/v1/exhaust-port`, '-w', ' %{http_code}'), base).to.equal('Access denied\r\n 403');
    }
    expect(new Set(deathstars.map((d) => d.node)).size, 'deathstars on both nodes').to.equal(2);
  });

  it('keeps the connection alive after a denial: the next request on it is forwarded', async () => {
    // (The deathstar itself answers with `Connection: close`, which the proxy passes on.)
    const url = `http://${deathstars[0]!.ip}`;
    const out = await curl('tiefighter', '-XPUT', `${url}/v1/exhaust-port`, '-w', ' connects=%{num_connects}\n', '--next', '-s', '-m', '4', '-XPOST', `${url}/v1/request-landing`, '-w', ' connects=%{num_connects}\n');
    expect(out).to.equal('Access denied\r\n connects=1\nShip landed\n connects=0\n');
  });

  it('drops the xwing at L3/L4', async () => {
    for (const d of deathstars) expect(await curl('xwing', '-XPOST', `http://${d.ip}/v1/request-landing`)).to.equal('exit 28');
  });

  it('shows each request and response as an L7 flow with its policy in hubble observe --type l7', async function () {
    if (!(await ensureHubbleCli())) this.skip();
    const node = c.config.nodes!.find((n) => n.name === deathstars[0]!.node) as NodeConfig;
    let flows: Flow[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await hubble(hubbleSocketPath(node), ['observe', '--type', 'l7', '-n', NS, '--last', '200', '-o', 'json']);
      expect(r.code, r.stderr).to.equal(0);
      flows = jsonLines<{ flow?: Flow }>(r.stdout).flatMap((l) => (l.flow ? [l.flow] : []));
      if (flows.some((f) => f.l7?.http?.method === 'PUT' && f.l7.type === 'RESPONSE')) break;
      await sleep(500);
    }
    const put = flows.find((f) => f.l7?.type === 'REQUEST' && f.l7.http?.method === 'PUT')!;
    expect(put, 'a PUT request flow').to.not.equal(undefined);
    expect(put).to.deep.include({ Type: 'L7', verdict: 'DROPPED', traffic_direction: 'INGRESS', node_name: node.name, proxy_port: 15000 });
    expect(put.l7!.http).to.deep.include({ url: `http://${deathstars[0]!.ip}/v1/exhaust-port`, protocol: 'HTTP/1.1' });
    expect(put.source).to.deep.include({ namespace: NS, pod_name: 'tiefighter' });
    expect((put as { ingress_denied_by?: { name: string }[] }).ingress_denied_by?.map((p) => p.name)).to.deep.equal(['rule1']);
    const landed = flows.find((f) => f.l7?.type === 'RESPONSE' && f.l7.http?.method === 'POST')!;
    expect(landed.l7!.http!.code).to.equal(200);
    expect(String(landed.l7!.latency_ns)).to.match(/^[1-9]\d*$/);
    expect(landed).to.deep.include({ verdict: 'FORWARDED', is_reply: true });
    expect(flows.find((f) => f.l7?.type === 'RESPONSE' && f.l7.http?.method === 'PUT')!.l7!.http!.code).to.equal(403);
  });

  it('merges a second policy\'s HTTP rules on the port, applied to the next request on an open keep-alive connection', async () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'echo', namespace: NS, labels: { org: 'empire', class: 'deathstar' } },
      spec: { containers: [{ name: 'echo', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', '--http-port=80'] }] },
    };
    expect((await runCommand(join(c.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: c.kubeconfig }, JSON.stringify(pod))).code).to.equal(0);
    expect((await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'pod/echo', '--timeout=180s'])).code).to.equal(0);
    const echo = podEndpoints(c.config).find((p) => p.namespace === NS && p.name === 'echo')!;
    const tiefighter = podEndpoints(c.config).find((p) => p.namespace === NS && p.name === 'tiefighter')!;
    // One connection from the tiefighter: a request now, another on each ask.
    const conn = keepAliveClient(tiefighter.netns, echo.ip, 80, 'GET /echo?msg=hi HTTP/1.1\r\nHost: echo\r\n\r\n');
    try {
      expect(await conn.first(), 'GET under rule1 alone').to.match(/^403 /);
      const allowEcho = {
        apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'allow-echo', namespace: NS },
        spec: {
          endpointSelector: { matchLabels: { org: 'empire', class: 'deathstar' } },
          ingress: [{ fromEndpoints: [{ matchLabels: { org: 'empire' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/echo(\\?.*)?' }] } }] }],
        },
      };
      expect((await runCommand(join(c.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: c.kubeconfig }, JSON.stringify(allowEcho))).code).to.equal(0);
      // The merged rules reach the proxy: then the same connection's next request passes.
      expect(await conn.askUntil('200'), 'GET once both policies apply').to.match(/^200 /);
      expect(new Set(conn.lines.map((l) => l.split(' ')[1])).size, 'one connection throughout').to.equal(1);
      // rule1's own rule still holds on the deathstar: PUT is denied, POST lands.
      expect(await curl('tiefighter', '-XPUT', `http://${deathstars[0]!.ip}/v1/exhaust-port`)).to.equal('Access denied\r\n');
    } finally {
      conn.close();
      const gone = await kubectl(['delete', '-n', NS, 'cnp/allow-echo', 'pod/echo', '--wait=false']);
      expect(gone.code, gone.stderr).to.equal(0);
    }
  });

  it('enforces egress HTTP rules of the client through its node\'s proxy, to the deathstar on its own node and on the other', async () => {
    expect((await kubectl(['delete', '-n', NS, 'cnp', 'rule1'])).code).to.equal(0);
    const egress = {
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'xwing-get-only', namespace: NS },
      spec: {
        endpointSelector: { matchLabels: { class: 'xwing' } },
        egress: [{ toEndpoints: [{ matchLabels: { class: 'deathstar' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/v1/' }] } }] }],
      },
    };
    const r = await runCommand(join(c.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: c.kubeconfig }, JSON.stringify(egress));
    expect(r.code, r.stderr).to.equal(0);
    for (const d of deathstars) {
      let denied = '';
      for (let i = 0; i < 40 && denied !== 'Access denied\r\n 403'; i++) {
        denied = await curl('xwing', '-XPOST', `http://${d.ip}/v1/request-landing`, '-w', ' %{http_code}');
        if (denied !== 'Access denied\r\n 403') await sleep(500);
      }
      expect(denied, `POST to the deathstar on ${d.node}`).to.equal('Access denied\r\n 403');
      // Forwarded, once rule1's removal (it dropped the xwing at the deathstar) reached that node too.
      let got = '';
      for (let i = 0; i < 20 && !got.includes('"name":"Death Star"'); i++) got = await curl('xwing', `http://${d.ip}/v1/`);
      expect(got, `GET on ${d.node}`).to.match(/"name":"Death Star"/);
    }
  });

  it('judges the client\'s egress rules and the deathstar\'s ingress rules both, on the same node as across nodes', async () => {
    // The xwing may GET anything below /v1/; the deathstar lets it GET /v1/ only. On the xwing's own
    // node its egress proxy judges both (the datapath does not hand that proxy's connection to the
    // ingress proxy); to the other node the two proxies chain.
    const policies = [
      { name: 'xwing-get-only', endpointSelector: { matchLabels: { class: 'xwing' } }, egress: [{ toEndpoints: [{ matchLabels: { class: 'deathstar' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/v1/.*' }] } }] }] },
      { name: 'deathstar-from-xwing', endpointSelector: { matchLabels: { class: 'deathstar' } }, ingress: [{ fromEndpoints: [{ matchLabels: { class: 'xwing' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/v1/' }] } }] }] },
    ];
    for (const { name, ...spec } of policies) {
      const r = await runCommand(join(c.binDir, 'kubectl'), ['apply', '-f', '-'], { KUBECONFIG: c.kubeconfig },
        JSON.stringify({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: NS }, spec }));
      expect(r.code, r.stderr).to.equal(0);
    }
    for (const d of deathstars) {
      let denied = '';
      for (let i = 0; i < 40 && denied !== 'Access denied\r\n 403'; i++) {
        denied = await curl('xwing', `http://${d.ip}/v1/exhaust-port`, '-w', ' %{http_code}');
        if (denied !== 'Access denied\r\n 403') await sleep(500);
      }
      expect(denied, `GET /v1/exhaust-port on ${d.node} (egress allows, ingress denies)`).to.equal('Access denied\r\n 403');
      expect(await curl('xwing', `http://${d.ip}/v1/`), `GET /v1/ on ${d.node}`).to.match(/"name":"Death Star"/);
      expect(await curl('xwing', '-XPOST', `http://${d.ip}/v1/request-landing`, '-w', ' %{http_code}'), `POST on ${d.node} (egress denies)`).to.equal('Access denied\r\n 403');
    }
  });
});
