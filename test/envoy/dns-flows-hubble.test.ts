// DNS proxy flows through Ciliate's Hubble server, read by upstream's hubble CLI: the L7 fields
// decode with upstream's definitions (query, IPs, rcode in the CLI's own rendering), and the CLI's
// L7 filters (--type l7, --protocol dns, --verdict) select the same flows on the server as on the
// client; datapath flows to and from addresses DNS answers named carry those names, which the FQDN
// filters (--to-fqdn, --from-fqdn, --fqdn) select as upstream's do.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toDnsFlow } from '../../agent/dns-flow.ts';
import { toHubbleFlow } from '../../agent/hubble-flow.ts';
import type { FlowEvent } from '../../datapath/events.ts';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage, rcodeResponse } from '../../envoy/dns/message.ts';
import type { DnsProxyRecord } from '../../envoy/dns/proxy.ts';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { runCommand } from '../support/cluster.ts';
import { ensureHubbleCli, hubble, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { syntheticContext } from '../support/hubble-flows.ts';

const CLIENT = { identity: 1001, namespace: 'demo', pod_name: 'client', labels: ['k8s:app=client'], cluster_name: 'default' };
const SERVER = { identity: 1010, namespace: 'kube-system', pod_name: 'coredns-1', labels: ['k8s:k8s-app=kube-dns'], cluster_name: 'default' };
const ORIGIN = { kind: 'CiliumNetworkPolicy' as const, namespace: 'demo', name: 'dns', ruleIndex: 0 };

/** What the proxy records for a query: the request, and unless denied the answer (`rcode` 0: one address). */
function records(name: string, allowed: boolean, protocol: 'udp' | 'tcp', rcode = 0): DnsProxyRecord[] {
  const query = decodeDnsMessage(encodeDnsMessage({ id: 5, rd: true, questions: [{ name, type: DnsType.A, class: 1 }] }));
  const response = decodeDnsMessage(rcode === 0
    ? encodeDnsMessage({ id: 5, qr: true, rcode: 0, questions: query.questions, answers: [{ name, type: DnsType.A, ttl: 30, address: '198.51.100.20' }] })
    : rcodeResponse(query, rcode));
  const base = {
    exchange: { protocol, source: { address: '10.244.0.5', port: 40000 }, destination: { address: '10.244.0.10', port: 53 } },
    query, decision: { allowed, origins: [ORIGIN] }, time: new Date(),
  };
  return allowed ? [{ ...base, type: 'request' }, { ...base, type: 'response', response, latencyNs: 1_500_000n }] : [{ ...base, type: 'request' }];
}

const EVENT: FlowEvent = {
  type: 'TRACE', verdict: 'FORWARDED', dropReason: 0, dropReasonDesc: '', matchType: 'NONE', direction: 'EGRESS', endpointId: 12,
  srcIdentity: 1001, dstIdentity: 16777217, srcIp: '10.244.0.5', dstIp: '198.51.100.20', srcPort: 40001, dstPort: 443, protocol: 6,
  tcpFlags: 0x02, ctState: 'NEW', ifindex: 3, entryId: 0, proxyPort: 0, packets: 1, bytes: 60n, tsNs: 0n, serviceLoopback: false,
};

/** Datapath flows whose peer DNS answers named (`names` of the address, as the agent's FQDN cache gives them). */
function namedFlows(): ReturnType<typeof toHubbleFlow>[] {
  const names: Record<string, string[]> = { '198.51.100.20': ['api.example.com', 'api.cdn.example.net'], '198.51.100.30': ['mirror.example.org'] };
  const ctx = { ...syntheticContext(), names: (ip: string) => names[ip] };
  return [
    toHubbleFlow(EVENT, [], ctx),
    toHubbleFlow({ ...EVENT, dstIp: '198.51.100.30', srcPort: 40002 }, [], ctx),
    toHubbleFlow({ ...EVENT, direction: 'INGRESS', srcIp: '198.51.100.20', dstIp: '10.244.0.5', srcPort: 443, dstPort: 40003, ctState: 'REPLY' }, [], ctx),
    toHubbleFlow({ ...EVENT, dstIp: '198.51.100.99', srcPort: 40004 }, [], ctx),
  ];
}

describe('DNS L7 flows read by upstream\'s hubble CLI', function () {
  this.timeout(120_000);
  let dir: string;
  let server: HubbleServer | undefined;
  let socket: string;
  let file: string;

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'ciliate-dns-flows-'));
    socket = join(dir, 'hubble.sock');
    const ring = new FlowRing(63);
    const all = [...records('api.example.com.', true, 'udp'), ...records('blocked.test.', false, 'tcp'), ...records('down.example.com.', true, 'udp', DnsRcode.SERVFAIL)];
    for (const r of all) ring.push(toDnsFlow(r, { client: CLIENT, server: SERVER }, { nodeName: 'node-a', proxyPort: 15053 }));
    for (const f of namedFlows()) ring.push(f);
    server = new HubbleServer(ring, { nodeName: 'node-a', clusterName: 'default', version: 'test', address: '', peers: { list: () => [], watch: () => () => undefined } });
    await server.listen(socket);
    const out = await hubble(socket, ['observe', '--all', '-o', 'json']);
    expect(out.code, out.stderr).to.equal(0);
    file = join(dir, 'flows.json');
    writeFileSync(file, out.stdout);
  });

  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('decodes l7.dns with upstream\'s field numbers and prints the DNS records', async () => {
    const lines = jsonLines<{ flow: { Type: string; l7?: { type: string; dns?: Record<string, unknown> }; verdict: string } }>((await hubble(socket, ['observe', '--all', '-o', 'json', '--type', 'l7'])).stdout);
    expect(lines.map((l) => [l.flow.Type, l.flow.l7?.type, l.flow.verdict])).to.deep.equal([
      ['L7', 'REQUEST', 'FORWARDED'], ['L7', 'RESPONSE', 'FORWARDED'], ['L7', 'REQUEST', 'DROPPED'], ['L7', 'REQUEST', 'FORWARDED'], ['L7', 'RESPONSE', 'FORWARDED'],
    ]);
    expect(lines[1]!.flow.l7?.dns).to.deep.include({ query: 'api.example.com.', ips: ['198.51.100.20'], ttl: 30, qtypes: ['A'] });
    const compact = await hubble(socket, ['observe', '--all', '-o', 'compact']);
    expect(compact.stdout).to.match(/demo\/client:40000 .*-> kube-system\/coredns-1:53 .*dns-request proxy FORWARDED .*api\.example\.com\. A/);
    expect(compact.stdout).to.match(/198\.51\.100\.20/);
    expect(compact.stdout).to.match(/dns-request proxy DROPPED .*blocked\.test\. A/);
    expect(compact.stdout).to.match(/RCode: SERVFAIL/i);
  });

  it('prints a named peer by its name, as upstream', async () => {
    const compact = await hubble(socket, ['observe', '--all', '-o', 'compact', '--type', 'trace']);
    expect(compact.stdout).to.match(/demo\/client-7d9f:40001 .*-> api\.example\.com,api\.cdn\.example\.net:443/);
    expect(compact.stdout).to.match(/-> 198\.51\.100\.99:443/);
  });

  for (const flags of [
    ['--type', 'l7'], ['--protocol', 'dns'], ['--verdict', 'DROPPED', '--type', 'l7'], ['--to-port', '53'],
    ['--to-fqdn', 'api.example.com'], ['--to-fqdn', '*.example.org'], ['--to-fqdn', 'API.*.net.'], ['--from-fqdn', 'api.example.com'],
    ['--fqdn', '*example*'], ['--to-fqdn', '*'],
  ]) {
    it(`hubble observe ${flags.join(' ')} selects as upstream's client does`, async () => {
      const uuids = (stdout: string) => jsonLines<{ flow: { uuid: string } }>(stdout).map((l) => l.flow.uuid);
      const served = await hubble(socket, ['observe', '--all', '-o', 'json', ...flags]);
      expect(served.code, served.stderr).to.equal(0);
      const oracle = await runCommand(hubbleCli(), ['observe', '--input-file', file, '-o', 'json', ...flags], { HUBBLE_CONFIG: '/dev/null' });
      expect(oracle.code, oracle.stderr).to.equal(0);
      expect(uuids(served.stdout)).to.deep.equal(uuids(oracle.stdout));
      expect(uuids(served.stdout).length).to.be.greaterThan(0);
    });
  }
});
