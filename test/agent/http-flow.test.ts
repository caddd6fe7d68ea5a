// HTTP proxy records as Hubble ring entries: what is known of a record's ends is looked up when it
// arrives, so a flow read later still names the pods of that moment, even after their addresses
// went to other pods (the ring outlives namespaces; upstream's flows are enriched when observed).
import { expect } from 'chai';
import { httpFlowEntries } from '../../agent/http-flow.ts';
import type { FlowEndpointSource, PodAtAddress } from '../../agent/hubble.ts';
import type { HttpFlowRecord } from '../../envoy/http/proxy.ts';

const record = (method: string): HttpFlowRecord => ({
  type: 'request', direction: 'ingress', source: { ip: '10.244.0.5', port: 40000, identity: 1001 }, destination: { ip: '10.244.1.7', port: 80, identity: 1002 },
  method, url: 'http://echo/x', protocol: 'HTTP/1.1', headers: ['Host', 'echo'], verdict: 'FORWARDED', code: 0, latencyNs: 0n,
  time: new Date(), origins: [], rule: 0,
});

describe('HTTP L7 flows in the ring', () => {
  it('keep the pods their ends were when the records arrived', async () => {
    const pods = new Map<string, PodAtAddress>([['10.244.0.5', { namespace: 'old', name: 'client' }], ['10.244.1.7', { namespace: 'old', name: 'echo' }]]);
    const ends: FlowEndpointSource = { nodeName: 'node-a', clusterName: 'default', localEndpoints: () => [], podAt: (ip) => pods.get(ip), labelsOf: () => [] };
    const entry = httpFlowEntries(ends);
    const first = entry(record('GET'), 15000);
    await Promise.resolve();
    // The namespace is gone and its addresses now belong to new pods.
    pods.set('10.244.0.5', { namespace: 'new', name: 'tiefighter' });
    pods.set('10.244.1.7', { namespace: 'new', name: 'deathstar' });
    const later = entry(record('PUT'), 15000);
    expect([first.flow.source?.pod_name, first.flow.destination?.pod_name, first.flow.source?.namespace]).to.deep.equal(['client', 'echo', 'old']);
    expect([later.flow.source?.pod_name, later.flow.destination?.pod_name, later.flow.source?.namespace]).to.deep.equal(['tiefighter', 'deathstar', 'new']);
  });
});
