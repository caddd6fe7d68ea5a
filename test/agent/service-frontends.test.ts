// Services and EndpointSlices into frontends as one node serves them: every frontend type, the
// traffic policies, affinity, the algorithm annotation and terminating endpoints.
import { expect } from 'chai';
import type { V1EndpointSlice, V1EndpointConditions, V1Service } from '@kubernetes/client-node';
import { LB_PROTO } from '../../datapath/maps/lb.ts';
import { serviceFrontends } from '../../agent/service-controllers.ts';
import type { LbBackend } from '../../agent/lb-sync.ts';

const TCP = LB_PROTO.TCP;
const UDP = LB_PROTO.UDP;
const NODE = { name: 'n1', ip: '172.29.0.10' };
const svc = (spec: V1Service['spec'], extra: Partial<V1Service> = {}): V1Service => ({
  metadata: { namespace: 'default', name: 'deathstar' },
  spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...extra,
});
type Ep = [ip: string, node: string, conditions?: V1EndpointConditions];
const slice = (name: string, eps: Ep[]): V1EndpointSlice => ({
  addressType: 'IPv4', metadata: { namespace: 'default', name, labels: { 'kubernetes.io/service-name': 'deathstar' } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }],
  endpoints: eps.map(([ip, nodeName, conditions]) => ({ addresses: [ip], nodeName, conditions: conditions ?? {} })),
});
const be = (ip: string, local: boolean, port = 8080, proto: number = TCP): LbBackend => ({ ip, port, proto, local });
const SLICES = [slice('a', [['10.244.0.5', 'n1', { ready: true }], ['10.244.1.6', 'n2', { ready: false }]]), slice('b', [['10.244.1.7', 'n2']])];

describe('service frontends from Services and EndpointSlices', function () {
  it('maps each port to the ready endpoints with the slice port of the same name', function () {
    const two = svc({ ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] });
    expect(serviceFrontends(two, SLICES, NODE)).to.deep.equal([
      { frontend: { ip: '10.96.0.20', port: 80, proto: TCP }, kind: 'ClusterIP', backends: [be('10.244.0.5', true), be('10.244.1.7', false)] },
      { frontend: { ip: '10.96.0.20', port: 53, proto: UDP }, kind: 'ClusterIP', backends: [be('10.244.0.5', true, 5353, UDP), be('10.244.1.7', false, 5353, UDP)] },
    ]);
  });

  it('gives headless and ExternalName Services no frontend', function () {
    expect(serviceFrontends(svc({ clusterIP: 'None' }), SLICES, NODE)).to.deep.equal([]);
    expect(serviceFrontends(svc({ type: 'ExternalName', externalName: 'x.example' }), SLICES, NODE)).to.deep.equal([]);
  });

  it('adds this node\'s address at the nodePort, each externalIP and each assigned LoadBalancer IP', function () {
    const s = svc({ type: 'LoadBalancer', externalIPs: ['192.0.2.7'], ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] },
      { status: { loadBalancer: { ingress: [{ ip: '198.51.100.4' }, { hostname: 'lb.example' }] } } });
    const f = serviceFrontends(s, SLICES, NODE).map((x) => [x.kind, `${x.frontend.ip}:${x.frontend.port}`, x.backends.length]);
    expect(f).to.deep.equal([
      ['ClusterIP', '10.96.0.20:80', 2], ['NodePort', '172.29.0.10:30080', 2], ['ExternalIP', '192.0.2.7:80', 2], ['LoadBalancer', '198.51.100.4:80', 2],
    ]);
    // Not yet assigned: no LoadBalancer frontend; a NodePort Service has no LoadBalancer IPs.
    expect(serviceFrontends(svc({ type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), SLICES, NODE).map((x) => x.kind)).to.deep.equal(['ClusterIP', 'NodePort']);
  });

  it('externalTrafficPolicy Local: node-local backends from outside, every backend for clients in the cluster', function () {
    const s = svc({ type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] });
    const np = serviceFrontends(s, SLICES, NODE).find((x) => x.kind === 'NodePort')!;
    expect(np.backends).to.deep.equal([be('10.244.0.5', true)]);
    expect(np.internalBackends).to.deep.equal([be('10.244.0.5', true), be('10.244.1.7', false)]);
    expect(np.localOnly).to.equal(true);
    // On a node without a local backend, outside traffic has nowhere to go.
    expect(serviceFrontends(s, SLICES, { name: 'n3', ip: '172.29.0.12' }).find((x) => x.kind === 'NodePort')!.backends).to.deep.equal([]);
  });

  it('internalTrafficPolicy Local keeps ClusterIP traffic on this node', function () {
    const f = serviceFrontends(svc({ internalTrafficPolicy: 'Local' }), SLICES, NODE);
    expect(f[0]!.backends).to.deep.equal([be('10.244.0.5', true)]);
  });

  it('carries ClientIP affinity with its timeout (default 3 h) and the algorithm annotation', function () {
    expect(serviceFrontends(svc({ sessionAffinity: 'ClientIP' }), SLICES, NODE)[0]!.affinityTimeoutSec).to.equal(10800);
    expect(serviceFrontends(svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), SLICES, NODE)[0]!.affinityTimeoutSec).to.equal(60);
    const annotated = svc({}, { metadata: { namespace: 'default', name: 'deathstar', annotations: { 'service.cilium.io/lb-algorithm': 'maglev' } } });
    expect(serviceFrontends(annotated, SLICES, NODE)[0]!.maglev).to.equal(true);
    expect(serviceFrontends(svc({}), SLICES, { ...NODE, algorithm: 'maglev' })[0]!.maglev).to.equal(true);
    expect(serviceFrontends(svc({}), SLICES, NODE)[0]!.maglev).to.equal(undefined);
  });

  it('falls back to serving terminating endpoints only when none is ready', function () {
    const draining = [slice('a', [['10.244.0.5', 'n1', { ready: false, serving: true, terminating: true }], ['10.244.0.6', 'n1', { ready: false, serving: false, terminating: true }]])];
    expect(serviceFrontends(svc({}), draining, NODE)[0]!.backends).to.deep.equal([be('10.244.0.5', true)]);
    const mixed = [slice('a', [['10.244.0.5', 'n1', { ready: false, serving: true, terminating: true }], ['10.244.0.7', 'n2', { ready: true }]])];
    expect(serviceFrontends(svc({}), mixed, NODE)[0]!.backends).to.deep.equal([be('10.244.0.7', false)]);
  });
});
