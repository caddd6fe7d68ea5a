// toFQDNs as the agent runs it: the FQDN cache (TTL raised to tofqdns-min-ttl, grace period, cap per
// name), which names select which addresses, and the policy feed turning DNS answers into identities
// and ipcache rows that the real endpoint program allows, until garbage collection after the TTL.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerRecords } from '../../agent/dns-proxy.ts';
import { FqdnCache } from '../../agent/fqdn-cache.ts';
import { DnsRcode, DnsType, decodeDnsMessage, encodeDnsMessage, rcodeResponse } from '../../envoy/dns/message.ts';
import { fqdnCacheSaver, loadFqdnCache } from '../../agent/fqdn-cache-file.ts';
import { isLocalIdentity } from '../../identity/numeric.ts';
import { fqdnNamesByIp, fqdnSelectorsOf } from '../../policy/fqdn.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { FeedHarness, freshHarnessPerTest, WORLD } from './support/feed-harness.ts';

const T0 = 1_700_000_000_000;
const cnp = (name: string, egress: object[]) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'default', uid: `u-${name}` },
  spec: { endpointSelector: { matchLabels: { app: WORLD.self.app } }, egress },
});
const port443 = [{ ports: [{ port: '443', protocol: 'TCP' }] }];

describe('FQDN cache', () => {
  it('keeps each address until its TTL runs out, extended by later answers, collected after the grace period', () => {
    const c = new FqdnCache({ graceSeconds: 5 });
    expect(c.update('API.example.com', [{ ip: '192.0.2.1', ttl: 30 }, { ip: '192.0.2.2', ttl: 10 }], T0)).to.equal(true);
    expect(c.lookup('api.example.com.')).to.deep.equal(['192.0.2.1', '192.0.2.2']);
    c.update('www.example.com', [{ ip: '192.0.2.1', ttl: 30 }], T0);
    expect(c.namesOf('192.0.2.1'), 'the reverse index, for flows').to.deep.equal(['api.example.com.', 'www.example.com.']);
    expect(c.update('api.example.com.', [{ ip: '192.0.2.2', ttl: 60 }], T0 + 1000), 'a known address only moves its expiry').to.equal(false);
    expect(c.gc(T0 + 34_999)).to.deep.equal([]);
    expect(c.gc(T0 + 35_000).map((e) => e.ip), 'TTL 30 s + grace 5 s').to.deep.equal(['192.0.2.1', '192.0.2.1']);
    expect(c.namesOf('192.0.2.1')).to.deep.equal([]);
    expect(c.nextExpiry()).to.equal(T0 + 61_000 + 5_000);
    expect(c.gc(T0 + 66_000).map((e) => e.ip)).to.deep.equal(['192.0.2.2']);
    expect(c.entries()).to.deep.equal([]);
  });

  it('raises short TTLs to tofqdns-min-ttl, and keeps the addresses expiring last beyond the cap per name', () => {
    const c = new FqdnCache({ minTtlSeconds: 3600, maxIpsPerName: 2 });
    c.update('a.example.', [{ ip: '192.0.2.1', ttl: 5 }], T0);
    expect(c.entries()[0]!.expiresMs).to.equal(T0 + 3_600_000);
    expect(c.update('a.example.', [{ ip: '192.0.2.2', ttl: 7200 }, { ip: '192.0.2.3', ttl: 7200 }], T0)).to.equal(true);
    expect(c.lookup('a.example.').sort()).to.deep.equal(['192.0.2.2', '192.0.2.3']);
    expect(c.namesOf('192.0.2.1'), 'dropped by the cap').to.deep.equal([]);
  });

  it('is saved and put back across a restart, without what expired meanwhile; a bad file is an empty cache', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ciliate-fqdn-'));
    try {
      const path = join(dir, 'fqdn-cache.json');
      const c = new FqdnCache();
      c.update('a.example.', [{ ip: '192.0.2.1', ttl: 30 }, { ip: '192.0.2.2', ttl: 300 }], T0);
      fqdnCacheSaver(path, c).flush();
      const back = new FqdnCache();
      loadFqdnCache(path, back, T0 + 60_000);
      expect(back.entries()).to.deep.equal([{ name: 'a.example.', ip: '192.0.2.2', expiresMs: T0 + 300_000 }]);
      writeFileSync(path, '{"not": "a list"');
      const warnings: string[] = [];
      const empty = new FqdnCache();
      loadFqdnCache(path, empty, T0, { warn: (m: string) => warnings.push(m) } as never);
      expect(empty.entries()).to.deep.equal([]);
      expect(warnings).to.have.length(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an answer\'s addresses count for the query name and every name of its CNAME chain', () => {
    const query = decodeDnsMessage(encodeDnsMessage({ id: 1, questions: [{ name: 'WWW.example.com.', type: DnsType.A, class: 1 }] }));
    const response = decodeDnsMessage(encodeDnsMessage({
      id: 1, qr: true, questions: query.questions, answers: [
        { name: 'www.example.com.', type: DnsType.CNAME, ttl: 300, target: 'edge.cdn.example.' },
        { name: 'edge.cdn.example.', type: DnsType.A, ttl: 20, address: '192.0.2.7' },
      ],
    }));
    expect([...answerRecords(query, response)]).to.deep.equal([
      ['www.example.com.', [{ ip: '192.0.2.7', ttl: 20 }]], ['edge.cdn.example.', [{ ip: '192.0.2.7', ttl: 20 }]],
    ]);
    expect(answerRecords(query, decodeDnsMessage(rcodeResponse(query, DnsRcode.NXDOMAIN))).size).to.equal(0);
  });

  it('labels an address with every cached name a toFQDNs selector matches', () => {
    const parsed = parsePolicy(cnp('f', [{ toFQDNs: [{ matchName: 'api.example.com' }, { matchPattern: '*.cdn.example' }] }]));
    const selectors = fqdnSelectorsOf(parsed.rules);
    expect(selectors).to.have.length(2);
    const pairs = [
      { name: 'api.example.com.', ip: '192.0.2.1' }, { name: 'img.cdn.example.', ip: '192.0.2.1' },
      { name: 'other.example.', ip: '192.0.2.1' }, { name: 'other.example.', ip: '192.0.2.9' },
    ];
    expect([...fqdnNamesByIp(pairs, selectors)]).to.deep.equal([['192.0.2.1', ['api.example.com.', 'img.cdn.example.']]]);
    expect(fqdnNamesByIp(pairs, []).size).to.equal(0);
  });
});

describe('agent: toFQDNs egress from DNS answers, in the kernel', function () {
  const t = freshHarnessPerTest();

  it('allows egress to the answered address while the cache holds it, and stops after the TTL', () => {
    t.h.apply(cnp('to-api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: port443 }]));
    expect(t.h.probe('egress', '198.51.100.20', 443), 'nothing resolved yet').to.equal('denied');
    t.h.feed.dnsAnswer('api.example.com.', [{ ip: '198.51.100.20', ttl: 30 }], T0);
    expect(t.h.probe('egress', '198.51.100.20', 443)).to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.20', 80), 'the rule names port 443').to.equal('denied');
    expect(t.h.probe('egress', '198.51.100.21', 443), 'another address').to.equal('denied');
    const id = t.h.ipcacheRows().get('198.51.100.20/32')!;
    expect(isLocalIdentity(id)).to.equal(true);
    expect(t.h.engine.selectorCache.identityLabels(id)?.toStrings()).to.deep.equal(['cidr:198.51.100.20/32', 'fqdn:api.example.com.', 'reserved:world']);
    // A name no selector matches leaves its address alone.
    t.h.feed.dnsAnswer('other.example.', [{ ip: '198.51.100.30', ttl: 30 }], T0);
    expect(t.h.ipcacheRows().has('198.51.100.30/32')).to.equal(false);
    t.h.feed.fqdnGc(T0 + 29_000);
    expect(t.h.probe('egress', '198.51.100.20', 443), 'TTL not run out').to.equal('allowed');
    t.h.feed.fqdnGc(T0 + 30_000);
    expect(t.h.probe('egress', '198.51.100.20', 443), 'collected').to.equal('denied');
    expect(t.h.ipcacheRows().has('198.51.100.20/32')).to.equal(false);
  });

  it('after an agent restart the restored cache selects the address again as the policies apply', () => {
    // Nothing is probed before the restart: no connection-tracking entry can admit the probes after it.
    t.h.apply(cnp('to-api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: port443 }]));
    t.h.feed.dnsAnswer('api.example.com.', [{ ip: '198.51.100.50', ttl: 300 }], T0);
    const saved = t.h.feed.fqdnCache.entries();
    t.h.close();
    t.h = new FeedHarness();
    t.h.apply(cnp('to-api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: port443 }]));
    expect(t.h.probe('egress', '198.51.100.50', 443), 'a new agent without the saved cache').to.equal('denied');
    t.h.close();
    t.h = new FeedHarness();
    t.h.feed.fqdnCache.restore(saved, T0 + 60_000);
    t.h.apply(cnp('to-api', [{ toFQDNs: [{ matchName: 'api.example.com' }], toPorts: port443 }]));
    expect(t.h.probe('egress', '198.51.100.50', 443), 'no new DNS answer needed').to.equal('allowed');
  });

  it('a policy added after the answer selects the cached address; deleting it releases the identity; toCIDR on the same address stays', () => {
    t.h.feed.dnsAnswer('img.cdn.example', [{ ip: '198.51.100.40', ttl: 300 }, { ip: '198.51.100.41', ttl: 300 }], T0);
    expect(t.h.ipcacheRows().has('198.51.100.40/32'), 'no selector yet').to.equal(false);
    t.h.apply(cnp('cdn', [{ toFQDNs: [{ matchPattern: '*.cdn.example' }], toPorts: port443 }]));
    t.h.apply(cnp('cidr', [{ toCIDR: ['198.51.100.41/32'], toPorts: port443 }]));
    expect(t.h.probe('egress', '198.51.100.40', 443)).to.equal('allowed');
    expect(t.h.probe('egress', '198.51.100.41', 443)).to.equal('allowed');
    t.h.feed.deletePolicy('CiliumNetworkPolicy', 'default', 'cdn');
    expect(t.h.probe('egress', '198.51.100.40', 443)).to.equal('denied');
    expect(t.h.ipcacheRows().has('198.51.100.40/32')).to.equal(false);
    expect(t.h.probe('egress', '198.51.100.41', 443), 'still named by toCIDR').to.equal('allowed');
  });
});
