// Hubble's dns metric over the DNS proxy's flows, with upstream's series: queries (denied ones with
// rcode "Policy denied"), responses by rcode name and number of addresses, response record types;
// context labels first; the query and ignoreAAAA options. The flow metric counts them as L7/DNS.
import { expect } from 'chai';
import { toDnsFlow } from '../../agent/dns-flow.ts';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage, rcodeResponse } from '../../envoy/dns/message.ts';
import type { DnsProxyRecord } from '../../envoy/dns/proxy.ts';
import type { Flow } from '../../hubble/flow-types.ts';
import { HubbleMetrics } from '../../hubble/metrics/hubble-metrics.ts';
import { parseMetricsConfig } from '../../hubble/metrics/options.ts';

const CLIENT = { identity: 1001, namespace: 'demo', pod_name: 'client', labels: ['k8s:app=client'] };
const SERVER = { identity: 1010, namespace: 'kube-system', pod_name: 'coredns-1', labels: ['k8s:k8s-app=kube-dns'] };

/** The flows of one exchange: the request, and for an allowed query the answer with `addresses` or `rcode`. */
function flows(name: string, type: number, allowed: boolean, addresses: string[], rcode: number = DnsRcode.NOERROR): Flow[] {
  const query = decodeDnsMessage(encodeDnsMessage({ id: 1, rd: true, questions: [{ name, type, class: 1 }] }));
  const response = decodeDnsMessage(rcode !== DnsRcode.NOERROR ? rcodeResponse(query, rcode) : encodeDnsMessage({
    id: 1, qr: true, questions: query.questions,
    answers: [{ name, type: DnsType.CNAME, ttl: 30, target: `edge.${name}` }, ...addresses.map((address) => ({ name: `edge.${name}`, type, ttl: 30, address }))],
  }));
  const base = {
    exchange: { protocol: 'udp' as const, source: { address: '10.244.0.5', port: 40000 }, destination: { address: '10.244.0.10', port: 53 } },
    query, decision: { allowed, origins: [] }, time: new Date(),
  };
  const records: DnsProxyRecord[] = allowed ? [{ ...base, type: 'request' }, { ...base, type: 'response', response }] : [{ ...base, type: 'request' }];
  return records.map((r) => toDnsFlow(r, { client: CLIENT, server: SERVER }, { nodeName: 'node-a', proxyPort: 15053 }));
}

async function scrape(setting: string, all: Flow[]): Promise<string[]> {
  const { metrics, problems } = parseMetricsConfig(setting);
  expect(problems).to.deep.equal([]);
  const m = new HubbleMetrics(metrics);
  for (const f of all) m.process(f);
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('hubble_'));
}

describe('Hubble dns metric from DNS proxy flows', () => {
  const all = [
    ...flows('api.example.com.', DnsType.A, true, ['198.51.100.20', '198.51.100.21']),
    ...flows('api.example.com.', DnsType.AAAA, true, []),
    ...flows('gone.example.com.', DnsType.A, true, [], DnsRcode.NXDOMAIN),
    ...flows('blocked.test.', DnsType.A, false, []),
  ];

  it('counts queries, responses and record types with upstream\'s labels, context first', async () => {
    const lines = await scrape('dns:sourceContext=pod flow', all);
    expect(lines).to.include.members([
      'hubble_dns_queries_total{source="demo/client",rcode="",qtypes="A",ips_returned="0"} 2',
      'hubble_dns_queries_total{source="demo/client",rcode="",qtypes="AAAA",ips_returned="0"} 1',
      'hubble_dns_queries_total{source="demo/client",rcode="Policy denied",qtypes="A",ips_returned="0"} 1',
      'hubble_dns_responses_total{source="kube-system/coredns-1",rcode="No Error",qtypes="A",ips_returned="2"} 1',
      'hubble_dns_responses_total{source="kube-system/coredns-1",rcode="No Error",qtypes="AAAA",ips_returned="0"} 1',
      'hubble_dns_responses_total{source="kube-system/coredns-1",rcode="Non-Existent Domain",qtypes="A",ips_returned="0"} 1',
      'hubble_dns_response_types_total{source="kube-system/coredns-1",type="CNAME",qtypes="A"} 1',
      'hubble_dns_response_types_total{source="kube-system/coredns-1",type="A",qtypes="A"} 1',
      'hubble_flows_processed_total{protocol="DNS",type="L7",subtype="DNS",verdict="FORWARDED"} 6',
      'hubble_flows_processed_total{protocol="DNS",type="L7",subtype="DNS",verdict="DROPPED"} 1',
    ]);
  });

  it('query adds the name; ignoreAAAA skips AAAA-only flows', async () => {
    const lines = await scrape('dns:query;ignoreAAAA', all);
    expect(lines).to.include('hubble_dns_queries_total{rcode="Policy denied",qtypes="A",ips_returned="0",query="blocked.test."} 1');
    expect(lines).to.include('hubble_dns_response_types_total{type="A",qtypes="A",query="api.example.com."} 1');
    expect(lines.filter((l) => l.includes('AAAA'))).to.deep.equal([]);
  });
});
