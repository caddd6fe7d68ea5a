// The native module's contract: fs-style errors, verifier logs, map operations (single, batch,
// iterate, pin/reopen), cgroup attach, and a ring buffer that survives a flood with losses counted.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../datapath/native.ts';
import { BpfObject } from '../../datapath/object.ts';
import { VerifierError } from '../../datapath/errors.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { ipcacheEntry, ipcacheKey } from '../../datapath/maps/ipcache.ts';
import { POLICY_CODECS, policyEntries } from '../../datapath/maps/policy.ts';
import { readEventStats } from '../../datapath/maps/metrics.ts';
import { perCpuCodec, u32Codec, u64Codec } from '../../datapath/maps/percpu.ts';
import { attachCgroup, CgroupAttachType } from '../../datapath/attach.ts';
import { FlowEventReader } from '../../datapath/events.ts';
import { makePinDir, removePinDir } from '../../datapath/bpffs.ts';
import type { CtKey } from '../../datapath/codecs/generated.ts';
import { requireBpf } from './support/env.ts';
import { compileFixture } from './support/fixtures.ts';
import { buildPacket } from './support/packets.ts';

const ct = (i: number): CtKey => ({ saddr: 0x0a000001, daddr: 0x0a000002 + i, sport: 1000, dport: 80, proto: 6, dir: 1 });
const ctVal = (i: number) => ({
  packets: BigInt(i), bytes: 0n, lastSeenNs: 0n, lastReportNs: [0n, 0n], srcIdentity: i, entryId: 0, proxyPort: 0, flags: 0,
  reportFlags: new Uint8Array(2), matchType: 0,
});

describe('native module', function () {
  let ep: LoadedEndpoint;

  before(function () {
    requireBpf(this);
    ep = loadEndpoint({ endpointId: 1, identity: 100 }, { maxEntries: { cilium_ct4_global: 8192, cilium_drop_aggr: 1024, cilium_events: 4096 } });
  });

  after(function () {
    ep?.close();
  });

  it('throws errors shaped like fs errors', function () {
    try {
      native().objGet('/sys/fs/bpf/ciliate-does-not-exist');
      expect.fail('no error');
    } catch (err) {
      expect(err).to.include({ code: 'ENOENT', errno: -2, syscall: 'bpf_obj_get' });
      expect((err as Error).message).to.match(/^ENOENT: No such file or directory, bpf_obj_get '/);
    }
  });

  it('returns the verifier log with a load failure', function () {
    const obj = BpfObject.open(compileFixture('bad'));
    try {
      let caught: unknown;
      try {
        obj.load();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(VerifierError);
      const v = caught as VerifierError;
      expect(v.code).to.equal('EACCES');
      expect(v.verifierLog).to.match(/invalid access to packet/);
    } finally {
      obj.close();
    }
  });

  it('updates, looks up, deletes (missing = success) and iterates a hash map', function () {
    const m = ep.maps.conntrack;
    m.update(ct(1), ctVal(1));
    expect(m.lookup(ct(1))?.srcIdentity).to.equal(1);
    expect(m.delete(ct(1))).to.equal(true);
    expect(m.delete(ct(1))).to.equal(false);
    expect(m.lookup(ct(1))).to.equal(undefined);
  });

  it('batch-updates and batch-deletes, tolerating missing keys, and prunes', function () {
    const m = ep.maps.conntrack;
    m.updateBatch(Array.from({ length: 1000 }, (_x, i) => [ct(i), ctVal(i)] as const));
    expect(m.entries()).to.have.length(1000);
    expect(m.deleteBatch([ct(0), ct(1), ct(5000)])).to.equal(2);
    expect(m.prune(Array.from({ length: 10 }, (_x, i) => ct(i)))).to.equal(990);
    expect(m.entries().map(([k]) => k.daddr - 0x0a000002).sort((a, b) => a - b)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9]);
    m.deleteBatch(m.entries().map(([k]) => k));
  });

  it('batch-updates an LPM trie element-wise', function () {
    const m = ep.maps.ipcache;
    m.updateBatch(Array.from({ length: 300 }, (_x, i) => ipcacheEntry(`10.9.${i >> 8}.${i & 255}/32`, 7000 + i)));
    expect(m.entries()).to.have.length(300);
    expect(m.lookup(ipcacheKey('10.9.0.42/32'))?.secIdentity).to.equal(7042);
    expect(m.deleteBatch([ipcacheKey('10.9.0.42/32'), ipcacheKey('10.99.0.1/32')])).to.equal(1);
  });

  it('pins a map and reopens it from bpffs', function () {
    const dir = makePinDir(`ciliate-test-pin-${process.pid}`);
    try {
      ep.maps.policy.updateBatch(policyEntries({ direction: 'ingress', identity: 9, protocol: 6, port: 22, entryId: 5 }));
      ep.maps.policy.pin(join(dir, 'policy'));
      using reopened = BpfMap.openPinned(join(dir, 'policy'), POLICY_CODECS.key, POLICY_CODECS.value);
      expect(reopened.entries().map(([, v]) => v.entryId)).to.deep.equal([5]);
      expect(() => BpfMap.openPinned(join(dir, 'policy'), u32Codec, u64Codec)).to.throw(/do not match/);
      // A per-CPU map reopens with a per-CPU value codec (one value per possible CPU), not the bare one.
      ep.maps.policyStats.pin(join(dir, 'stats'));
      using stats = BpfMap.openPinned(join(dir, 'stats'), u32Codec, perCpuCodec(POLICY_CODECS.statsValue));
      expect(stats.lookup(0)).to.have.length(native().possibleCpus());
      expect(() => BpfMap.openPinned(join(dir, 'stats'), u32Codec, POLICY_CODECS.statsValue)).to.throw(/do not match/);
    } finally {
      removePinDir(dir);
    }
  });

  it('attaches a program to a cgroup v2 directory with a link and detaches it', function () {
    const obj = BpfObject.open(compileFixture('cgroup'));
    const root = mkdtempSync(join(tmpdir(), 'ciliate-cg-'));
    let mounted = false;
    try {
      obj.load();
      execFileSync('mount', ['-t', 'cgroup2', 'none', root]);
      mounted = true;
      const cg = join(root, `ciliate-${process.pid}`);
      mkdirSync(cg);
      const link = attachCgroup(obj.progFd('count_egress'), cg, CgroupAttachType.INET_EGRESS);
      try {
        spawnSync('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec nc -z -w 1 127.0.0.1 9`]);
        const seen = BpfMap.fromFd(obj.mapFd('seen'), u32Codec, u64Codec);
        expect(Number(seen.lookup(0))).to.be.greaterThan(0);
        seen.close();
      } finally {
        native().linkDetach(link);
        native().fdClose(link);
        rmdirSync(cg);
      }
    } finally {
      if (mounted) execFileSync('umount', [root]);
      rmdirSync(root);
      obj.close();
    }
  });

  it('counts lost events when a flood fills the ring and keeps delivering bounded batches', function () {
    const batches: number[] = [];
    const reader = new FlowEventReader(ep.maps.eventsFd, (evs) => batches.push(evs.length), { intervalMs: 10_000, maxBatchBytes: 1024 });
    try {
      for (let i = 0; i < 500; i++) {
        const r = native().progTestRun(ep.progs.toContainer, buildPacket({ src: '10.8.0.1', dst: '10.8.0.2', proto: 'udp', sport: 1024 + i, dport: 53 }));
        expect(r.retval).to.equal(0);
      }
      const st = readEventStats(ep.maps.eventStats);
      expect(st.sent + st.lost).to.equal(500n);
      expect(st.lost > 0n).to.equal(true);
      while (reader.drain() > 0);
      expect(batches.reduce((a, b) => a + b, 0)).to.equal(Number(st.sent));
      expect(Math.max(...batches)).to.be.at.most(1024 / 72 + 1);
    } finally {
      reader.close();
    }
  });

  it('delivers events through kernel wakeups without a timer drain once the backlog passes wakeupBytes', async function () {
    using woken = loadEndpoint({ endpointId: 2, identity: 100, wakeupBytes: 1 }, { maxEntries: { cilium_ct4_global: 1024, cilium_drop_aggr: 1024 } });
    let got = 0;
    const reader = new FlowEventReader(woken.maps.eventsFd, (evs) => { got += evs.length; }, { intervalMs: 60_000 });
    try {
      native().progTestRun(woken.progs.toContainer, buildPacket({ src: '10.8.0.1', dst: '10.8.0.2', proto: 'udp', sport: 999, dport: 53 }));
      for (let i = 0; i < 50 && got === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).to.equal(1);
    } finally {
      reader.close();
    }
  });
});
