// The service map's server in process: flows as the page sees them (workloads, entities, Services,
// the deciding rule in words), the Service index, the command line, the SSE stream from a real
// Hubble server's followed GetFlows (history, namespace filter, live flows), and the chart's objects.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { builtToolchain } from '../../cluster/toolchain.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { parseUiArgs } from '../../hubble/ui/main.ts';
import { grpcTarget, ObserverClient } from '../../hubble/ui/observer-client.ts';
import { UiServer } from '../../hubble/ui/server.ts';
import { indexServices } from '../../hubble/ui/service-backends.ts';
import { toUiFlow, workloadOf, type UiFlow } from '../../hubble/ui/ui-flow.ts';
import { nopLogger } from '../../runtime/logger.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Reads SSE `flow` events from `url` until `until` holds for them (or 10 s pass); `during` runs once connected and returns its stop. */
async function sseFlows(url: string, until: (flows: UiFlow[]) => boolean, during?: () => () => void): Promise<UiFlow[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  const flows: UiFlow[] = [];
  let stop = () => {};
  try {
    const res = await fetch(url, { signal: abort.signal });
    expect(res.headers.get('content-type')).to.equal('text/event-stream');
    const decoder = new TextDecoder();
    let buf = '';
    let started = false;
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = /^event: flow\ndata: (.*)$/s.exec(event);
        if (data) flows.push(JSON.parse(data[1]!) as UiFlow);
      }
      if (!started && during) {
        started = true;
        stop = during();
      }
      if (until(flows)) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    stop();
    clearTimeout(timer);
    abort.abort();
  }
  return flows;
}

describe('Hubble UI server', function () {
  const flows = syntheticFlows(24, T0);

  describe('flows as the map draws them', function () {
    it('names workloads by workload, app label or pod name without generated suffixes', function () {
      expect(workloadOf({ identity: 1, pod_name: 'server-0', labels: ['k8s:app=server'] })).to.equal('server');
      expect(workloadOf({ identity: 1, pod_name: 'web-7d9f8b6c5d-x2x9k', labels: [] })).to.equal('web');
      expect(workloadOf({ identity: 1, pod_name: 'job-abcde', labels: ['k8s:io.kubernetes.pod.namespace=x'] })).to.equal('job');
      expect(workloadOf({ identity: 1, pod_name: 'p', workloads: [{ name: 'deploy', kind: 'Deployment' }], labels: ['k8s:app=x'] })).to.equal('deploy');
      expect(workloadOf({ identity: 2, labels: ['reserved:world'] })).to.equal(undefined);
    });

    it('explains drops by their deny rule, or as default deny; allowed flows by their allow rule', function () {
      const denied = toUiFlow(flows.find((f) => f.egress_denied_by)!);
      expect(denied).to.include({ verdict: 'DROPPED', dropReason: 'POLICY_DENY', rule: 'denied by CiliumNetworkPolicy demo/deny-db', protocol: 'TCP', port: 5432 });
      expect(denied.source).to.include({ id: 'demo/client', workload: 'client', namespace: 'demo', pod: 'client-7d9f' });
      expect(denied.destination).to.include({ id: 'other/db', namespace: 'other' });
      const defaultDeny = toUiFlow(flows.find((f) => f.verdict === 'DROPPED' && !f.egress_denied_by && !f.ingress_denied_by)!);
      expect(defaultDeny).to.include({ dropReason: 'POLICY_DENIED', rule: 'no rule allowed it (default deny)' });
      const allowed = toUiFlow(flows.find((f) => f.ingress_allowed_by)!);
      expect(allowed).to.include({ verdict: 'FORWARDED', rule: 'allowed by NetworkPolicy demo/allow-web' });
      expect(allowed.dropReason).to.equal(undefined);
    });

    it('puts endpoints outside pods on reserved nodes; names the Service of the flow, else the one given', function () {
      const world = toUiFlow(flows.find((f) => f.IP.source === '198.51.100.10')!);
      expect(world.source).to.include({ id: 'reserved:world', workload: 'world' });
      const f: Flow = { ...flows[0]!, destination_service: { name: 'web', namespace: 'demo' } };
      expect(toUiFlow(f, 'demo/other').service).to.equal('demo/web');
      expect(toUiFlow(flows[0]!, 'demo/other').service).to.equal('demo/other');
      expect(toUiFlow(flows[3]!).reply).to.equal(true);
      const byIdentity: Flow = { ...flows[0]!, source: { identity: 1001, labels: ['k8s:app=client', 'k8s:io.kubernetes.pod.namespace=demo'] } };
      expect(toUiFlow(byIdentity).source).to.include({ id: 'demo/client', namespace: 'demo' });
    });

    it('indexes Services by frontend and backend address:port', function () {
      const index = indexServices(
        { items: [{ metadata: { namespace: 'demo', name: 'web' }, spec: { clusterIPs: ['10.96.0.20'], ports: [{ port: 80 }] } }, { metadata: { namespace: 'demo', name: 'headless' }, spec: { clusterIPs: ['None'], ports: [{ port: 80 }] } }] },
        { items: [{ metadata: { namespace: 'demo', labels: { 'kubernetes.io/service-name': 'web' } }, ports: [{ port: 8080 }], endpoints: [{ addresses: ['10.244.1.7'] }] }, { metadata: { namespace: 'demo' }, ports: [{ port: 1 }], endpoints: [{ addresses: ['10.0.0.1'] }] }] },
      );
      expect(Object.fromEntries(index)).to.deep.equal({ '10.244.1.7:8080': 'demo/web', '10.96.0.20:80': 'demo/web' });
    });
  });

  describe('command line', function () {
    it('takes the Observer from --hubble-server, FLOWS_API_ADDR or HUBBLE_SERVER and listens on :8081 by default', function () {
      expect(parseUiArgs(['--hubble-server', 'unix:///run/h.sock'], {})).to.deep.include({ hubbleServer: 'unix:///run/h.sock', port: 8081, host: undefined, inCluster: false });
      expect(parseUiArgs(['--listen', '127.0.0.1:0'], { FLOWS_API_ADDR: 'hubble-relay:80', KUBERNETES_SERVICE_HOST: '10.96.0.1' }))
        .to.deep.include({ hubbleServer: 'hubble-relay:80', host: '127.0.0.1', port: 0, inCluster: true });
      expect(parseUiArgs([], { HUBBLE_SERVER: 'unix:///h.sock', KUBECONFIG: '/k' })).to.deep.include({ hubbleServer: 'unix:///h.sock', kubeconfig: '/k' });
      expect(() => parseUiArgs([], {})).to.throw(/^--hubble-server:/);
      expect(() => parseUiArgs(['--hubble-server', 'x:1', '--listen', 'nope'], {})).to.throw(/^--listen:/);
      expect(() => parseUiArgs(['--hubble-server', 'x:1', '--listen', ':70000'], {})).to.throw(/^--listen:/);
      expect(grpcTarget('/run/h.sock')).to.equal('unix:///run/h.sock');
      expect(grpcTarget('hubble-relay:4245')).to.equal('hubble-relay:4245');
    });
  });

  describe('the flow stream from a Hubble server', function () {
    let dir: string;
    let ring: FlowRing;
    let hubble: HubbleServer;
    let observer: ObserverClient;
    let ui: UiServer;
    let base: string;

    /** Followers the ring has now (GetFlows streams still open). */
    let following = 0;

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'ciliate-ui-'));
      ring = new FlowRing(255);
      for (const f of flows) ring.push(f);
      const listen = ring.listen.bind(ring);
      ring.listen = (l) => {
        following++;
        const stop = listen(l);
        let stopped = false;
        return () => {
          if (!stopped) following--;
          stopped = true;
          stop();
        };
      };
      hubble = new HubbleServer(ring, { nodeName: 'node-a', clusterName: 'default', version: 'test', address: '', peers: { list: () => [], watch: () => () => undefined } });
      await hubble.listen(join(dir, 'hubble.sock'));
      observer = new ObserverClient(`unix://${join(dir, 'hubble.sock')}`);
      ui = new UiServer({ observer, serviceOf: (ip, port) => (ip === '10.244.1.7' && port === 8080 ? 'demo/server' : undefined), log: nopLogger });
      base = `http://127.0.0.1:${await ui.listen(0, '127.0.0.1')}`;
    });

    after(async function () {
      await ui?.close();
      observer?.close();
      hubble?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('serves the page, its script and style, and health', async function () {
      const page = await fetch(`${base}/`);
      expect(page.headers.get('content-type')).to.match(/^text\/html/);
      expect(await page.text()).to.include('<svg id="map"');
      expect((await fetch(`${base}/app.js`)).headers.get('content-type')).to.match(/^text\/javascript/);
      expect((await fetch(`${base}/style.css`)).headers.get('content-type')).to.match(/^text\/css/);
      expect(await (await fetch(`${base}/healthz`)).text()).to.equal('ok\n');
      expect((await fetch(`${base}/nope`)).status).to.equal(404);
      expect((await fetch(`${base}/`, { method: 'POST' })).status).to.equal(405);
    });

    it('lists the namespaces the Observer has seen', async function () {
      expect(await (await fetch(`${base}/api/namespaces`)).json()).to.deep.equal({ namespaces: ['demo', 'other'] });
    });

    it('streams the last flows of a namespace, with their Services, then live ones', async function () {
      const history = await sseFlows(`${base}/api/flows?namespace=other&last=5`, (f) => f.length >= 5);
      expect(history).to.have.length(5);
      expect(history.every((f) => f.source.namespace === 'other' || f.destination.namespace === 'other')).to.be.true;
      // The stream follows from when the server's GetFlows starts: new flows until one arrives.
      let n = 0;
      const pushLive = () => {
        const timer = setInterval(() => ring.push({ ...flows[2]!, uuid: `live-${++n}`, time: { seconds: T0 / 1000 + 60 + n, nanos: 0 } }), 100);
        return () => clearInterval(timer);
      };
      const got = await sseFlows(`${base}/api/flows?last=0`, (f) => f.length > 0, pushLive);
      expect(got.length).to.be.greaterThan(0);
      expect(got.every((f) => f.uuid.startsWith('live-')), 'no history with last=0').to.be.true;
      expect(got[0]).to.include({ service: 'demo/server', rule: 'allowed by NetworkPolicy demo/allow-web' });
    });

    it('ends the GetFlows stream of a page that goes away', async function () {
      await sseFlows(`${base}/api/flows?last=1`, (f) => f.length > 0);
      for (let i = 0; i < 40 && following > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(following).to.equal(0);
    });

    it('an unreachable Observer: namespaces answer 502, a flow stream says why and ends', async function () {
      const gone = new ObserverClient(`unix://${join(dir, 'absent.sock')}`);
      const down = new UiServer({ observer: gone, log: nopLogger });
      try {
        const url = `http://127.0.0.1:${await down.listen(0, '127.0.0.1')}`;
        const ns = await fetch(`${url}/api/namespaces`);
        expect(ns.status).to.equal(502);
        expect(((await ns.json()) as { error: string }).error).to.match(/UNAVAILABLE|No connection/i);
        const stream = await (await fetch(`${url}/api/flows`)).text();
        expect(stream).to.match(/event: failure\ndata: \{"error":".*UNAVAILABLE/);
      } finally {
        await down.close();
        gone.close();
      }
    });
  });

  describe('chart', function () {
    it('renders the hubble-ui Deployment and Service (port 80 to 8081) only when hubble.ui.enabled', async function () {
      const bin = await builtToolchain('cluster');
      if (!bin) this.skip();
      const render = async (...set: string[]) => {
        const { stdout } = await promisify(execFile)(join(bin!, 'helm'), ['template', 'x', join(import.meta.dirname, '../../charts/ciliate'), '--kube-version', '1.33.13', ...set.flatMap((s) => ['--set', s])]);
        return parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> }).filter((o) => o?.metadata?.name === 'hubble-ui');
      };
      expect(await render()).to.deep.equal([]);
      const objects = await render('hubble.ui.enabled=true', 'hubble.ui.service.type=NodePort');
      expect(objects.map((o) => o.kind).sort()).to.deep.equal(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Service', 'ServiceAccount']);
      const svc = objects.find((o) => o.kind === 'Service')!.spec as { type: string; ports: { port: number; targetPort: number; nodePort: number }[] };
      expect(svc.type).to.equal('NodePort');
      expect(svc.ports).to.deep.equal([{ name: 'http', port: 80, targetPort: 8081, nodePort: 31235 }]);
      const pod = (objects.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: { containers: { image: string; env: { name: string; value: string }[] }[] } } }).template.spec;
      expect(pod.containers[0]!.image).to.equal('localhost/ciliate/hubble-ui:0.1.0');
      expect(pod.containers[0]!.env).to.deep.include({ name: 'FLOWS_API_ADDR', value: 'hubble-relay:80' });
    });
  });
});
