// Map-state building blocks: port blocks, covering, precedence, enforcement modes, L7 merging,
// named ports, ICMP, and the diffs a rule change produces.
import { expect } from 'chai';
import { MapState } from '../../policy/mapstate.ts';
import {
  type MapStateRow, type PolicyKey, formatRow, keyCovers, portRangeToPrefixes,
} from '../../policy/mapstate-types.ts';
import { verdict } from '../../policy/verdict.ts';
import { reservedIdentityLabels } from '../../identity/reserved-labels.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { ruleSelects } from '../../policy/repository.ts';
import { cnp, connect, endpointFor, engineWith, ID, podLabels, policyFromYaml } from './support/world.ts';

const key = (identity: number, protocol: number, port: number, portPrefixLen: number): PolicyKey =>
  ({ direction: 'ingress', identity, protocol, port, portPrefixLen });
const row = (k: PolicyKey, deny: boolean, proxyPort = 0): MapStateRow =>
  ({ key: k, entry: { deny, proxyPort, derivedFrom: [{ kind: 'CiliumNetworkPolicy', namespace: 'n', name: `${k.identity}-${k.port}-${deny}`, ruleIndex: 0 }] } });

describe('port ranges as prefix blocks', () => {
  const cases: [number, number, [number, number][]][] = [
    [80, 80, [[80, 16]]],
    [0, 65535, [[0, 0]]],
    [8000, 8003, [[8000, 14]]],
    [1, 6, [[1, 16], [2, 15], [4, 15], [6, 16]]],
    [1024, 2047, [[1024, 6]]],
    [65535, 65535, [[65535, 16]]],
  ];
  for (const [from, to, want] of cases) {
    it(`${from}-${to}`, () => {
      expect(portRangeToPrefixes(from, to).map((b) => [b.port, b.portPrefixLen])).to.deep.equal(want);
    });
  }
  it('covers exactly the range', () => {
    for (const [from, to] of [[3, 1000], [8000, 8100], [1, 65535]] as const) {
      const covered = portRangeToPrefixes(from, to).reduce((n, b) => n + 2 ** (16 - b.portPrefixLen), 0);
      expect(covered).to.equal(to - from + 1);
    }
  });
});

describe('key covering', () => {
  it('protocol any covers everything of the same identity', () => expect(keyCovers(key(5, 0, 0, 0), key(5, 6, 80, 16))).to.equal(true));
  it('port block covers ports inside', () => expect(keyCovers(key(5, 6, 8000, 14), key(5, 6, 8003, 16))).to.equal(true));
  it('not ports outside', () => expect(keyCovers(key(5, 6, 8000, 14), key(5, 6, 8004, 16))).to.equal(false));
  it('not other identities', () => expect(keyCovers(key(0, 0, 0, 0), key(5, 6, 80, 16))).to.equal(false));
  it('not other protocols', () => expect(keyCovers(key(5, 17, 0, 0), key(5, 6, 80, 16))).to.equal(false));
});

describe('verdict precedence', () => {
  const table: { name: string; rows: MapStateRow[]; remote: number; port: number; want: string; by?: string }[] = [
    { name: 'no entry: default deny', rows: [], remote: 5, port: 80, want: 'default-deny' },
    { name: 'deny on wildcard beats specific allow', rows: [row(key(5, 6, 80, 16), false), row(key(0, 6, 80, 16), true)], remote: 5, port: 80, want: 'denied' },
    { name: 'deny on specific beats wildcard allow', rows: [row(key(0, 0, 0, 0), false), row(key(5, 6, 80, 16), true)], remote: 5, port: 80, want: 'denied' },
    { name: 'longer prefix wins among allows', rows: [row(key(5, 0, 0, 0), false), row(key(0, 6, 80, 16), false)], remote: 5, port: 80, want: 'allowed', by: '0-80-false' },
    { name: 'identity wins ties', rows: [row(key(5, 6, 80, 16), false), row(key(0, 6, 80, 16), false)], remote: 5, port: 80, want: 'allowed', by: '5-80-false' },
    { name: 'redirect beats plain allow', rows: [row(key(5, 6, 80, 16), false), row(key(0, 6, 80, 16), false, 15000)], remote: 5, port: 80, want: 'redirect' },
    { name: 'L3-only allow', rows: [row(key(5, 0, 0, 0), false)], remote: 5, port: 9999, want: 'allowed' },
    { name: 'other identity falls to default deny', rows: [row(key(5, 0, 0, 0), false)], remote: 6, port: 80, want: 'default-deny' },
    { name: 'range block matches inside', rows: [row(key(5, 6, 8000, 14), false)], remote: 5, port: 8002, want: 'allowed' },
  ];
  for (const t of table) {
    it(t.name, () => {
      const v = verdict(MapState.of(t.rows), { direction: 'ingress', remoteIdentity: t.remote, protocol: 6, port: t.port });
      expect(v.verdict).to.equal(t.want);
      if (t.by) expect(v.derivedFrom[0]!.name).to.equal(t.by);
    });
  }
});

describe('map state computation', () => {
  it('turns an allow hidden behind a broader deny of the same identity into a deny', () => {
    const e = engineWith([cnp('mix', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {name: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {name: client}}]
`)]);
    const rows = e.mapState(ID.echoSame)!.rowsFor('ingress', ID.client);
    expect(rows.every((r) => r.entry.deny)).to.equal(true);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('PolicyDenyIngressDrop');
  });

  it('expands protocol ANY with a port to TCP, UDP and SCTP', () => {
    const e = engineWith([cnp('anyproto', `
  endpointSelector: {matchLabels: {name: echo-same-node}}
  ingress:
  - toPorts: [{ports: [{port: "5000"}]}]
`)]);
    const protos = e.mapState(ID.echoSame)!.rowsFor('ingress', 0).filter((r) => r.key.port === 5000).map((r) => r.key.protocol).sort((a, b) => a - b);
    expect(protos).to.deep.equal([6, 17, 132]);
  });

  it('resolves named ports on ingress against the endpoint', () => {
    const e = engineWith([cnp('named', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {kind: client}}]
    toPorts: [{ports: [{port: "http", protocol: TCP}]}]
`)]);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('OK');
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 80).result).to.equal('DefaultDenyIngressDrop');
  });

  it('puts ICMP types in the port field', () => {
    const e = engineWith([cnp('icmp', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {kind: client}}]
    icmps: [{fields: [{type: EchoRequest}, {type: 128, family: IPv6}]}]
`)]);
    expect(connect(e, ID.client, ID.echoSame, 'ICMP', 8).result).to.equal('OK');
    expect(connect(e, ID.client, ID.echoSame, 'ICMPv6', 128).result).to.equal('OK');
    expect(connect(e, ID.client, ID.echoSame, 'ICMP', 0).result).to.equal('DefaultDenyIngressDrop');
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8).result).to.equal('DefaultDenyIngressDrop');
  });

  it('merges L7 rules of the same port and marks allowAll when an L4 allow covers it', () => {
    const l7 = (name: string, method: string) => `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}}
spec:
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {name: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: ${method}}]}}]
`;
    const e = engineWith([l7('get', 'GET'), l7('put', 'PUT')]);
    const v = connect(e, ID.client, ID.echoSame, 'TCP', 8080);
    expect(v.result).to.equal('Redirect');
    expect(v.ingress!.match!.entry.redirect!.rules).to.have.length(2);
    expect(v.ingress!.match!.entry.redirect!.allowAll).to.equal(false);
    expect(v.ingress!.derivedFrom.map((o) => o.name)).to.deep.equal(['get', 'put']);
    e.upsertPolicy(policyFromYaml(cnp('l4', `
  endpointSelector: {matchLabels: {kind: echo}}
  ingress:
  - fromEndpoints: [{matchLabels: {name: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
`)));
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).ingress!.match!.entry.redirect!.allowAll).to.equal(true);
  });

  it('enforcement mode never allows everything, always denies unselected endpoints', () => {
    const deny = cnp('deny', `
  endpointSelector: {}
  ingress: [{}]
`);
    expect(connect(engineWith([deny], { enforcementMode: 'never' }), ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('OK');
    expect(connect(engineWith([], { enforcementMode: 'always' }), ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('DefaultDenyEgressDrop');
    const always = engineWith([], { enforcementMode: 'always', allowLocalhost: false });
    expect(connect(always, ID.host, ID.echoSame, 'TCP', 8080).result).to.equal('DefaultDenyIngressDrop');
  });

  it('a deny-only policy still applies where enforcement is disabled for the direction', () => {
    const e = engineWith([cnp('d', `
  endpointSelector: {matchLabels: {kind: echo}}
  enableDefaultDeny: {ingress: false}
  ingressDeny: [{fromEndpoints: [{matchLabels: {name: client}}]}]
`)]);
    expect(connect(e, ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('PolicyDenyIngressDrop');
    expect(connect(e, ID.client2, ID.echoSame, 'TCP', 8080).result).to.equal('OK');
  });

  it('returns the exact diff when a rule changes', () => {
    const v1 = cnp('change', `
  endpointSelector: {matchLabels: {name: echo-same-node}}
  ingress:
  - fromEndpoints: [{matchLabels: {name: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`);
    const e = engineWith([v1]);
    const diffs = e.upsertPolicy(policyFromYaml(v1.replace('"80"', '"81"')));
    const d = diffs.get(ID.echoSame)!;
    expect(d.added.map(formatRow)).to.deep.equal([
      'ingress id=1001 proto=6 port=81 allow <- CiliumNetworkPolicy/cilium-test-1/change[0]@spec.ingress[0]',
    ]);
    expect(d.removed.map(formatRow)).to.deep.equal([
      'ingress id=1001 proto=6 port=80 allow <- CiliumNetworkPolicy/cilium-test-1/change[0]@spec.ingress[0]',
    ]);
    expect(d.changed).to.deep.equal([]);
    expect([...diffs.keys()]).to.deep.equal([ID.echoSame]);
  });

  it('removing a policy restores the previous state', () => {
    const e = engineWith([]);
    const before = e.mapState(ID.echoSame)!.rows().map(formatRow);
    e.upsertPolicy(policyFromYaml(cnp('tmp', `
  endpointSelector: {}
  ingress: [{}]
`)));
    expect(e.mapState(ID.echoSame)!.rows().map(formatRow)).to.not.deep.equal(before);
    e.deletePolicy('CiliumNetworkPolicy', 'cilium-test-1', 'tmp');
    expect(e.mapState(ID.echoSame)!.rows().map(formatRow)).to.deep.equal(before);
  });
});

describe('policy details', () => {
  it('reports L7 rules of different parsers on one key as a conflict', () => {
    const mk = (name: string, rules: string) => `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}}
spec:
  endpointSelector: {matchLabels: {name: client}}
  egress:
  - toEndpoints: [{matchLabels: {kind: echo}}]
    toPorts: [{ports: [{port: "9092", protocol: TCP}], rules: ${rules}}]
`;
    const e = engineWith([mk('http', '{http: [{method: GET}]}'), mk('kafka', '{kafka: [{topic: t}]}')]);
    const v = connect(e, ID.client, ID.echoSame, 'TCP', 9092);
    expect(v.egress!.match!.entry.redirect!.parser).to.equal('http');
    expect(e.l7Conflicts(ID.client).length).to.be.greaterThan(0);
    expect(e.l7Conflicts(ID.client)[0]).to.match(/kafka rules of CiliumNetworkPolicy\/cilium-test-1\/kafka\[0\]/);
  });

  it('enforcement mode never ignores deny rules too', () => {
    const deny = cnp('d', `
  endpointSelector: {}
  ingressDeny: [{fromEntities: [all]}]
`);
    expect(connect(engineWith([deny], { enforcementMode: 'never' }), ID.client, ID.echoSame, 'TCP', 8080).result).to.equal('OK');
  });

  it('endpointSelector rules do not select the host endpoint; nodeSelector rules only it', () => {
    const host = reservedIdentityLabels('host');
    const ep = parsePolicy({ kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'a' }, spec: { endpointSelector: {} } }).rules[0]!;
    const node = parsePolicy({ kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'b' }, spec: { nodeSelector: {} } }).rules[0]!;
    expect(ruleSelects(ep, host)).to.equal(false);
    expect(ruleSelects(node, host)).to.equal(true);
    expect(ruleSelects(node, podLabels('n', { app: 'x' }))).to.equal(false);
    expect(ruleSelects(ep, podLabels('n', { app: 'x' }))).to.equal(true);
  });
});

describe('policy engine sharing', () => {
  it('computes once for endpoints of one identity and reports diffs to each', () => {
    const e = engineWith([]);
    const before = e.computationCount;
    const twin = { ...endpointFor(ID.echoSame, [{ name: 'http', port: 8080, protocol: 'TCP' }]), id: 9001 };
    const first = e.upsertEndpoint(twin);
    expect(e.computationCount).to.equal(before);
    expect(first.added.length).to.equal(e.mapState(ID.echoSame)!.size);
    const diffs = e.upsertPolicy(policyFromYaml(cnp('deny-all', `
  endpointSelector: {matchLabels: {name: echo-same-node}}
  ingress: [{}]
`)));
    expect([...diffs.keys()].sort((a, b) => a - b)).to.deep.equal([ID.echoSame, 9001]);
    e.removeEndpoint(ID.echoSame);
    expect(e.computationCount).to.equal(before);
    e.removeEndpoint(9001);
    expect(e.computationCount).to.equal(before - 1);
  });
});
