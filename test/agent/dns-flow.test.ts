// The DNS proxy's records as Hubble flows carry the rule that decided them, as HTTP flows do: an
// allowed query and its answer name the allowing policy in egress_allowed_by, a refused query names
// it in egress_denied_by, and a query no rule covered (default deny) names none.
import { expect } from 'chai';
import { toDnsFlow } from '../../agent/dns-flow.ts';
import { flowPolicy } from '../../agent/hubble-flow.ts';
import { DnsType, decodeDnsMessage, encodeDnsMessage } from '../../envoy/dns/message.ts';
import type { DnsProxyRecord } from '../../envoy/dns/proxy.ts';
import type { RuleOrigin } from '../../policy/api/model.ts';

const CNP = { kind: 'CiliumNetworkPolicy' as const, namespace: 'demo', name: 'dns', ruleIndex: 0 };
const ENDS = { client: { identity: 1001, labels: [] }, server: { identity: 1010, labels: [] } };
const NODE = { nodeName: 'node-a', proxyPort: 10001 };

function record(type: 'request' | 'response', allowed: boolean, origins: readonly RuleOrigin[]): DnsProxyRecord {
  const query = decodeDnsMessage(encodeDnsMessage({ id: 7, rd: true, questions: [{ name: 'web.example.', type: DnsType.A, class: 1 }] }));
  const response = decodeDnsMessage(encodeDnsMessage({ id: 7, qr: true, rcode: 0, questions: query.questions, answers: [{ name: 'web.example.', type: DnsType.A, ttl: 5, address: '192.0.2.80' }] }));
  return {
    type, query, ...(type === 'response' ? { response } : {}), decision: { allowed, origins }, time: new Date(),
    exchange: { protocol: 'udp', source: { address: '10.244.0.5', port: 40000 }, destination: { address: '10.244.0.10', port: 53 } },
  };
}

describe('DNS L7 flows: the deciding rule', () => {
  it('an allowed query and its answer name the allowing policy in egress_allowed_by', () => {
    for (const type of ['request', 'response'] as const) {
      const flow = toDnsFlow(record(type, true, [CNP]), ENDS, NODE);
      expect(flow.verdict).to.equal('FORWARDED');
      expect(flow.egress_allowed_by).to.deep.equal([flowPolicy(CNP)]);
      expect(flow.egress_denied_by).to.equal(undefined);
    }
  });

  it('a refused query names the policy whose rules.dns refused it in egress_denied_by', () => {
    const flow = toDnsFlow(record('request', false, [CNP]), ENDS, NODE);
    expect(flow.verdict).to.equal('DROPPED');
    expect(flow.egress_denied_by).to.deep.equal([flowPolicy(CNP)]);
    expect(flow.egress_allowed_by).to.equal(undefined);
  });

  it('a query no rule covered (default deny) names no policy', () => {
    const flow = toDnsFlow(record('request', false, []), ENDS, NODE);
    expect(flow.egress_denied_by).to.equal(undefined);
    expect(flow.egress_allowed_by).to.equal(undefined);
  });
});
