// The agent's bridge from policy computation to the kernel: upstream's star-wars rule1, parsed and
// computed by the pure policy engine, written into a real BPF policy map, and judged by the real
// endpoint program under BPF_PROG_TEST_RUN.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { native } from '../../datapath/native.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry } from '../../datapath/maps/ipcache.ts';
import { setEnforcement } from '../../datapath/maps/policy.ts';
import { FlowEventReader, type FlowEvent } from '../../datapath/events.ts';
import { DropReason } from '../../datapath/constants.ts';
import { PolicyEngine } from '../../policy/engine.ts';
import { parsePolicy } from '../../policy/api/parse-policy.ts';
import { formatOrigin } from '../../policy/mapstate-types.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';
import { EndpointPolicyMap } from '../../agent/policy-map-sync.ts';
import { buildPacket, TCP } from '../datapath/support/packets.ts';
import { requireBpf } from '../datapath/support/env.ts';

const show = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
const OK = 0;
const DROP = 2;
const pods = {
  deathstar: { ip: '10.244.1.10', identity: 20001, labels: { org: 'empire', class: 'deathstar' } },
  tiefighter: { ip: '10.244.1.11', identity: 20002, labels: { org: 'empire', class: 'tiefighter' } },
  xwing: { ip: '10.244.2.12', identity: 20003, labels: { org: 'alliance', class: 'xwing' } },
};
const ruleFile = join(import.meta.dirname, '..', 'fixtures', 'policies', 'accepted', 'sw-l3-l4-policy.yaml');

describe('policy engine to kernel (star-wars rule1 under BPF_PROG_TEST_RUN)', function () {
  let ep: LoadedEndpoint;
  let engine: PolicyEngine;
  let policyMap: EndpointPolicyMap;
  const rule1 = { ...parse(readFileSync(ruleFile, 'utf8')), metadata: { name: 'rule1', namespace: 'default', uid: 'u1' } };

  before(function () {
    requireBpf(this);
  });

  beforeEach(() => {
    engine = new PolicyEngine();
    engine.updateIdentities(Object.values(pods).map((p) => [p.identity, sanitizePodLabels({ namespace: 'default', podLabels: p.labels })] as const));
    ep = loadEndpoint({ endpointId: 1, identity: pods.deathstar.identity }, { maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 4096 } });
    ep.maps.ipcache.updateBatch(Object.values(pods).map((p) => ipcacheEntry(`${p.ip}/32`, p.identity)));
    setEnforcement(ep.maps.policyConfig, true, true);
    policyMap = new EndpointPolicyMap(ep.maps.policy);
    policyMap.apply(engine.upsertEndpoint({ id: 1, identity: pods.deathstar.identity, labels: sanitizePodLabels({ namespace: 'default', podLabels: pods.deathstar.labels }) }));
  });

  afterEach(() => ep?.close());

  const toDeathstar = (from: keyof typeof pods, dport = 80, sport = 40000): number =>
    native().progTestRun(ep.progs.toContainer, buildPacket({ src: pods[from].ip, dst: pods.deathstar.ip, proto: 'tcp', sport, dport, flags: TCP.SYN })).retval;

  it('allows everything before any policy selects the endpoint', () => {
    expect(toDeathstar('xwing')).to.equal(OK);
    expect(toDeathstar('tiefighter', 8080)).to.equal(OK);
  });

  it('with rule1, lands the tiefighter and drops the xwing with reason policy-denied', () => {
    const parsed = parsePolicy(rule1);
    expect(parsed.errors).to.deep.equal([]);
    for (const diff of engine.upsertPolicy(parsed).values()) policyMap.apply(diff);
    const events: FlowEvent[] = [];
    const reader = new FlowEventReader(ep.maps.eventsFd, (evs) => events.push(...evs), { intervalMs: 10_000 });
    try {
      expect(toDeathstar('tiefighter', 80, 40001)).to.equal(OK);
      expect(toDeathstar('xwing', 80, 40002)).to.equal(DROP);
      expect(toDeathstar('tiefighter', 8080, 40003)).to.equal(DROP);
      reader.drain();
    } finally {
      reader.close();
    }
    const drop = events.find((e) => e.type === 'DROP' && e.srcIdentity === pods.xwing.identity);
    expect(drop, show(events)).to.not.equal(undefined);
    expect(drop!.dropReason).to.equal(DropReason.POLICY_DENIED);
    expect(drop!.dstIdentity).to.equal(pods.deathstar.identity);
    // The allowed flow names the rule that allowed it.
    const allowed = events.find((e) => e.verdict === 'FORWARDED' && e.srcIdentity === pods.tiefighter.identity);
    expect(allowed, show(events)).to.not.equal(undefined);
    const why = policyMap.explain(allowed!.entryId);
    expect(why?.entry.derivedFrom.map(formatOrigin)).to.deep.equal(['CiliumNetworkPolicy/default/rule1[0]@spec.ingress[0]']);
  });

  it('deleting the policy restores access', () => {
    for (const diff of engine.upsertPolicy(parsePolicy(rule1)).values()) policyMap.apply(diff);
    expect(toDeathstar('xwing', 80, 40010)).to.equal(DROP);
    for (const diff of engine.deletePolicy('CiliumNetworkPolicy', 'default', 'rule1').values()) policyMap.apply(diff);
    expect(toDeathstar('xwing', 80, 40011)).to.equal(OK);
  });

  it('repairs drift between the kernel map and the computed state', () => {
    for (const diff of engine.upsertPolicy(parsePolicy(rule1)).values()) policyMap.apply(diff);
    expect(policyMap.reconcile()).to.deep.equal({ repaired: 0, pruned: 0 });
    const [someKey] = ep.maps.policy.entries()[0]!;
    ep.maps.policy.delete(someKey);
    ep.maps.policy.update({ prefixlen: 40, secLabel: 999, egress: 0, protocol: 0, dport: 0 }, { proxyPort: 0, flags: 0, prefixLen: 0, entryId: 9999 });
    expect(policyMap.reconcile()).to.deep.equal({ repaired: 1, pruned: 1 });
    expect(toDeathstar('tiefighter', 80, 40020)).to.equal(OK);
    expect(toDeathstar('xwing', 80, 40021)).to.equal(DROP);
  });
});
