// The runtime's client-node adapters against a scripted mock API server on loopback.
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { statusCodeOf } from '../../runtime/api-errors.ts';
import { Informer } from '../../runtime/informer.ts';
import type { ResourceRef } from '../../runtime/resource.ts';

interface Seen {
  method: string;
  url: URL;
  contentType?: string;
  body: unknown;
}
type Route = (req: Seen, res: ServerResponse) => void;

/** Sends `body` as JSON with `status`. */
function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const widgets: ResourceRef = { apiVersion: 'test.ciliate.io/v1', kind: 'Widget', plural: 'widgets', namespaced: true };
const cm = (name: string, rv: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv } });

describe('runtime kube adapters (mock API server)', () => {
  let server: Server;
  let kc: KubeConfig;
  let seen: Seen[];
  let route: Route;
  let mod: typeof import('../../runtime/kube.ts');

  before(async () => {
    const { KubeConfig } = await import('@kubernetes/client-node');
    mod = await import('../../runtime/kube.ts');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const s: Seen = {
          method: req.method ?? '',
          url: new URL(req.url ?? '/', 'http://x'),
          contentType: req.headers['content-type'],
          body: raw ? JSON.parse(raw) : undefined,
        };
        seen.push(s);
        route(s, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'mock', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't0k3n' }],
      contexts: [{ name: 'c', cluster: 'mock', user: 'u' }],
      currentContext: 'c',
    });
  });
  beforeEach(() => {
    seen = [];
    route = (_req, res) => json(res, 404, { kind: 'Status', code: 404, message: 'not found' });
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('lists with pagination as plain JSON, then watches from the list resourceVersion', async () => {
    const events: string[] = [];
    route = (req, res) => {
      if (req.url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(JSON.stringify({ type: 'ADDED', object: cm('c', '11') }) + '\n');
        res.end(JSON.stringify({ type: 'DELETED', object: cm('a', '12') }) + '\n');
        return;
      }
      if (!req.url.searchParams.get('continue')) {
        json(res, 200, { kind: 'ConfigMapList', metadata: { resourceVersion: '9', continue: 'next' }, items: [cm('a', '5')] });
      } else {
        json(res, 200, { kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [cm('b', '6')] });
      }
    };
    const source = mod.kubeListWatch<KubernetesObject>(
      kc,
      { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
      { namespace: 'ns', labelSelector: 'app=x', pageSize: 1 },
    );
    const listing = await source.list();
    expect(listing.resourceVersion).to.equal('10');
    expect(listing.items.map((i) => i.metadata?.name)).to.deep.equal(['a', 'b']);
    expect(seen[0]!.url.pathname).to.equal('/api/v1/namespaces/ns/configmaps');
    expect(seen[0]!.url.searchParams.get('limit')).to.equal('1');
    expect(seen[0]!.url.searchParams.get('labelSelector')).to.equal('app=x');
    expect(seen[1]!.url.searchParams.get('continue')).to.equal('next');
    const done = new Promise<unknown>((resolve) => {
      void source.watch('10', (ev) => events.push(`${ev.type}:${(ev.object as KubernetesObject).metadata?.name}`), resolve);
    });
    expect(await done).to.equal(null);
    expect(events).to.deep.equal(['ADDED:c', 'DELETED:a']);
    const w = seen[2]!.url.searchParams;
    expect([w.get('resourceVersion'), w.get('allowWatchBookmarks'), w.get('labelSelector')]).to.deep.equal(['10', 'true', 'app=x']);
  });

  it('drives an Informer: relists after a 410 ERROR event and keeps running after a 500', async () => {
    let lists = 0;
    let watches = 0;
    route = (req, res) => {
      if (req.url.searchParams.get('watch') !== 'true') {
        lists++;
        json(res, 200, { metadata: { resourceVersion: String(100 * lists) }, items: lists === 1 ? [cm('a', '1')] : [cm('b', '2')] });
        return;
      }
      watches++;
      if (watches === 1) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }) + '\n');
      } else if (watches === 2) {
        json(res, 500, { kind: 'Status', code: 500 });
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(JSON.stringify({ type: 'ADDED', object: cm('c', '300') }) + '\n');
      }
    };
    const informer = new Informer(mod.kubeListWatch(kc, { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true }), {
      minBackoffMs: 10,
    });
    const stop = new AbortController();
    const running = informer.start(stop.signal);
    for (let i = 0; i < 200 && !informer.get('ns/c'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(lists).to.equal(2);
    expect(informer.keys().sort()).to.deep.equal(['ns/b', 'ns/c']);
    const watchRvs = seen.filter((s) => s.url.searchParams.get('watch') === 'true').map((s) => s.url.searchParams.get('resourceVersion'));
    expect(watchRvs).to.deep.equal(['100', '200', '200']);
    stop.abort();
    await running;
  });

  it('patches /status with the JSON Patch and merge patch content types', async () => {
    route = (req, res) => json(res, 200, { metadata: { name: 'w' }, status: {} });
    const writer = mod.statusWriter(kc, widgets);
    await writer.jsonPatch({ namespace: 'ns', name: 'w' }, [{ op: 'replace', path: '/status/phase', value: 'Ready' }]);
    await writer.mergePatch({ namespace: 'ns', name: 'w' }, { status: { phase: 'Ready' } });
    expect(seen.map((s) => [s.method, s.url.pathname, s.contentType])).to.deep.equal([
      ['PATCH', '/apis/test.ciliate.io/v1/namespaces/ns/widgets/w/status', 'application/json-patch+json'],
      ['PATCH', '/apis/test.ciliate.io/v1/namespaces/ns/widgets/w/status', 'application/merge-patch+json'],
    ]);
    expect(seen[0]!.body).to.deep.equal([{ op: 'replace', path: '/status/phase', value: 'Ready' }]);
    route = (_req, res) => json(res, 422, { kind: 'Status', code: 422, message: 'test failed' });
    let err: unknown;
    await writer.jsonPatch({ namespace: 'ns', name: 'w' }, [{ op: 'test', path: '/x', value: 1 }]).catch((e: unknown) => (err = e));
    expect(statusCodeOf(err)).to.equal(422);
  });

  it('event sink creates events and merge-patches series', async () => {
    route = (req, res) => json(res, req.method === 'POST' ? 201 : 200, { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'e1', namespace: 'ns' }, eventTime: new Date().toISOString() });
    const sink = mod.eventsV1Sink(kc);
    const created = await sink.create({ metadata: { namespace: 'ns', generateName: 'p.' }, eventTime: new Date(), reason: 'R' });
    expect(created.metadata?.name).to.equal('e1');
    await sink.patch('ns', 'e1', { series: { count: 2, lastObservedTime: '2026-01-01T00:00:00.000000Z' } });
    expect(seen.map((s) => [s.method, s.url.pathname])).to.deep.equal([
      ['POST', '/apis/events.k8s.io/v1/namespaces/ns/events'],
      ['PATCH', '/apis/events.k8s.io/v1/namespaces/ns/events/e1'],
    ]);
    expect(seen[1]!.contentType).to.equal('application/merge-patch+json');
    expect(seen[1]!.body).to.deep.equal({ series: { count: 2, lastObservedTime: '2026-01-01T00:00:00.000000Z' } });
  });

  it('lease client maps 404 to undefined and surfaces 409 conflicts', async () => {
    const client = mod.leaseClient(kc);
    expect(await client.get('ns', 'l')).to.equal(undefined);
    route = (_req, res) => json(res, 409, { kind: 'Status', code: 409, reason: 'Conflict' });
    let err: unknown;
    await client
      .replace({ metadata: { namespace: 'ns', name: 'l', resourceVersion: '1' }, spec: { holderIdentity: 'a' } })
      .catch((e: unknown) => (err = e));
    expect(statusCodeOf(err)).to.equal(409);
    expect(seen[1]!.method).to.equal('PUT');
    expect(seen[1]!.url.pathname).to.equal('/apis/coordination.k8s.io/v1/namespaces/ns/leases/l');
  });

  it('sends Lease and Event times in MicroTime wire format', async () => {
    const { MicroTime } = await import('../../runtime/micro-time.ts');
    route = (req, res) => json(res, 201, req.body);
    const t = new MicroTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    await mod.leaseClient(kc).create({ metadata: { namespace: 'ns', name: 'l' }, spec: { holderIdentity: 'a', renewTime: t, acquireTime: t } });
    await mod.eventsV1Sink(kc).create({ metadata: { namespace: 'ns', generateName: 'p.' }, eventTime: t });
    expect((seen[0]!.body as { spec: { renewTime: string } }).spec.renewTime).to.equal('2026-01-02T03:04:05.678000Z');
    expect((seen[1]!.body as { eventTime: string }).eventTime).to.equal('2026-01-02T03:04:05.678000Z');
  });
});
