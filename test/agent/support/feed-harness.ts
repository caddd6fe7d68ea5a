// One endpoint of a node as the agent runs it, minus the cluster: the shared reserved identities, the
// policy engine, the policy feed (CIDR identities, ipcache) and a real endpoint program with its own
// policy map, judged under BPF_PROG_TEST_RUN. Addresses of pods, nodes and the apiserver are placed
// as the agent's ipcache controllers place them.
import { native } from '../../../datapath/native.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../../datapath/loader.ts';
import { ipcacheKeyCidr } from '../../../datapath/maps/ipcache.ts';
import { setEnforcement } from '../../../datapath/maps/policy.ts';
import { readMetrics } from '../../../datapath/maps/metrics.ts';
import { DropReason, Direction } from '../../../datapath/constants.ts';
import { ReservedIdentity } from '../../../identity/numeric.ts';
import { singleStackReservedIdentities } from '../../../identity/reserved-labels.ts';
import { sanitizePodLabels } from '../../../identity/pod-labels.ts';
import type { LabelSet } from '../../../identity/labels.ts';
import { PolicyEngine, type EndpointDiffs } from '../../../policy/engine.ts';
import { NamedPortIndex } from '../../../agent/named-ports.ts';
import { parsePolicy } from '../../../policy/api/parse-policy.ts';
import { IpcacheSync } from '../../../agent/ipcache-sync.ts';
import { EndpointPolicyMap } from '../../../agent/policy-map-sync.ts';
import { PolicyFeed } from '../../../agent/policy-feed.ts';
import { buildPacket } from '../../datapath/support/packets.ts';
import { requireBpf } from '../../datapath/support/env.ts';

/** The harness's fixed world. */
export const WORLD = {
  self: { ip: '10.244.0.5', identity: 30001, app: 'client' },
  server: { ip: '10.244.1.6', identity: 30002, app: 'server' },
  node: '172.29.9.10',
  remoteNode: '172.29.9.11',
  apiserver: '172.29.9.1',
} as const;

/** How the kernel decided one packet: admitted, default deny (133) or a deny rule (181). */
export type KernelVerdict = 'allowed' | 'denied' | 'deny-rule';

/** A node's policy path for one endpoint, on real BPF maps. */
export class FeedHarness {
  readonly engine: PolicyEngine;
  /** Egress named ports, as the agent's CiliumEndpoint controller fills them. */
  readonly namedPorts = new NamedPortIndex();
  readonly ep: LoadedEndpoint;
  readonly ipcache: IpcacheSync;
  readonly policyMap: EndpointPolicyMap;
  readonly feed: PolicyFeed;
  readonly labels: LabelSet;
  #sport = 20000;

  constructor(readonly endpointId = 1) {
    this.engine = new PolicyEngine({
      egressNamedPorts: (name, peer) => this.namedPorts.resolve(name, peer, (id) => this.engine.selectorCache.identityLabels(id)),
    });
    const pod = (app: string) => sanitizePodLabels({ namespace: 'default', podLabels: { app } });
    this.labels = pod(WORLD.self.app);
    this.engine.updateIdentities([
      ...singleStackReservedIdentities().map((r) => [r.id, r.labels] as const),
      [WORLD.self.identity, this.labels], [WORLD.server.identity, pod(WORLD.server.app)],
    ]);
    this.ep = loadEndpoint({ endpointId, identity: WORLD.self.identity }, { maxEntries: { cilium_ct4_global: 65536, cilium_drop_aggr: 4096 } });
    this.ipcache = new IpcacheSync(this.ep.maps.ipcache);
    this.ipcache.upsert('world', '0.0.0.0/0', { identity: ReservedIdentity.world });
    this.ipcache.upsert('endpoint', WORLD.self.ip, { identity: WORLD.self.identity });
    this.ipcache.upsert('endpoint', WORLD.server.ip, { identity: WORLD.server.identity });
    this.ipcache.upsert('node', WORLD.node, { identity: ReservedIdentity.host });
    this.ipcache.upsert('node', WORLD.remoteNode, { identity: ReservedIdentity['remote-node'] });
    this.ipcache.upsert('apiserver', WORLD.apiserver, { identity: ReservedIdentity['kube-apiserver'] });
    setEnforcement(this.ep.maps.policyConfig, true, true);
    this.policyMap = new EndpointPolicyMap(this.ep.maps.policy);
    this.feed = new PolicyFeed(this.engine, this.ipcache, (diffs) => this.applyDiffs(diffs));
    this.policyMap.apply(this.engine.upsertEndpoint({ id: endpointId, identity: WORLD.self.identity, labels: this.labels }));
  }

  /** Writes the endpoint's share of engine diffs into its map. */
  applyDiffs(diffs: EndpointDiffs): void {
    const d = diffs.get(this.endpointId);
    if (d) this.policyMap.apply(d);
  }

  /** Applies a policy object (CNP, CCNP or NetworkPolicy); throws on validation errors. */
  apply(obj: object): void {
    const parsed = parsePolicy(obj);
    if (parsed.errors.length > 0) throw new Error(JSON.stringify(parsed.errors));
    this.feed.upsertPolicy(parsed);
  }

  /** Runs one new flow's first packet through the endpoint's program and reads the verdict from the counters. */
  probe(direction: 'egress' | 'ingress', peer: string, dport: number, proto: 'tcp' | 'udp' | 'icmp' = 'tcp', icmpType?: number): KernelVerdict {
    const before = this.#drops();
    const sport = this.#sport++;
    const frame = direction === 'egress'
      ? buildPacket({ src: WORLD.self.ip, dst: peer, proto, sport, dport, ...(icmpType === undefined ? {} : { icmpType, icmpId: sport }) })
      : buildPacket({ src: peer, dst: WORLD.self.ip, proto, sport, dport, ...(icmpType === undefined ? {} : { icmpType, icmpId: sport }) });
    const rc = native().progTestRun(direction === 'egress' ? this.ep.progs.fromContainer : this.ep.progs.toContainer, frame).retval;
    const after = this.#drops();
    if (rc === 0) return 'allowed';
    if (after.deny > before.deny) return 'deny-rule';
    if (after.denied > before.denied) return 'denied';
    throw new Error(`dropped for another reason (rc ${rc})`);
  }

  #drops(): { denied: bigint; deny: bigint } {
    const rows = readMetrics(this.ep.maps.metrics).filter((r) => r.direction === Direction.EGRESS || r.direction === Direction.INGRESS);
    const sum = (reason: number) => rows.filter((r) => r.reason === reason).reduce((a, r) => a + r.packets, 0n);
    return { denied: sum(DropReason.POLICY_DENIED), deny: sum(DropReason.POLICY_DENY) };
  }

  /** The kernel's ipcache rows as `prefix -> identity`. */
  ipcacheRows(): Map<string, number> {
    return new Map(this.ep.maps.ipcache.entries().map(([k, v]) => [ipcacheKeyCidr(k), v.secIdentity]));
  }

  close(): void {
    this.ep.close();
  }
}

/** Registers mocha hooks that give each test a fresh harness (skipped without BPF); read `.h` inside the tests. */
export function freshHarnessPerTest(): { h: FeedHarness } {
  const holder = {} as { h: FeedHarness };
  before(function () {
    requireBpf(this);
  });
  beforeEach(() => {
    holder.h = new FeedHarness();
  });
  afterEach(() => holder.h?.close());
  return holder;
}
