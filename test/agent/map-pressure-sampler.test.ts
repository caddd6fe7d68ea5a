// Pressure of the maps the datapath fills itself, on real maps: the conntrack map's entries are
// counted in the kernel and exported as cilium_bpf_map_pressure, with a Warning at 90%.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { KernelTables } from '../../agent/kernel-tables.ts';
import { mapPressureSampler } from '../../agent/map-pressure-sampler.ts';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ctEntryCodec, type CtKey } from '../../datapath/codecs/generated.ts';
import { createLogger, nopLogger } from '../../runtime/logger.ts';
import { requireBpf } from '../datapath/support/env.ts';

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
/** Conntrack capacity in this test. */
const CT_MAX = 2048;

describe('agent: map pressure of datapath-filled maps (real conntrack map)', function () {
  let ep: LoadedEndpoint | undefined;
  before(function () {
    requireBpf(this);
  });
  afterEach(() => ep?.close());

  it('counts the entries in the kernel, exports them as cilium_bpf_map_pressure and warns at 90%', async () => {
    ep = loadEndpoint({ endpointId: 1, identity: 30001 }, { maxEntries: { cilium_ct4_global: CT_MAX, cilium_drop_aggr: 1024 } });
    const ct = ep.maps.conntrack;
    const value = ctEntryCodec.decode(Buffer.alloc(ctEntryCodec.size));
    const key = (i: number): CtKey => ({ ...ct.keyCodec.decode(Buffer.alloc(ct.keyCodec.size)), saddr: 0x0af40000 + i, daddr: 0x0af40100, sport: 1000, dport: 80, proto: 6 });
    const fill = (from: number, to: number) => ct.updateBatch(Array.from({ length: to - from }, (_, i) => [key(from + i), value] as const));
    fill(0, 512);
    const events: string[] = [];
    const lines: Record<string, unknown>[] = [];
    const kernel = new KernelTables(createLogger({ write: (l) => lines.push(JSON.parse(l)) }), {
      event: (o, type, reason, _action, note) => events.push(`${type} ${reason} ${o.kind}/${o.metadata?.name}: ${note}`),
    });
    const registry = new Registry();
    kernel.registerMetrics(registry);
    let samples = 0;
    // Each sample is awaited here: the interval is a tick, and the test waits for the next sample count.
    const counted = (n: number) => new Promise<void>((resolve) => {
      const poll = () => (samples >= n ? resolve() : setTimeout(poll, 5));
      poll();
    });
    const stop = new AbortController();
    // The conntrack map, counting its samples.
    const counting = { fd: ct.fd, count: async (max: number) => {
      const n = await ct.count(max);
      setImmediate(() => samples++);
      return n;
    } };
    const running = mapPressureSampler(kernel, async () => [{ mapName: 'cilium_ct4_global', map: counting, owner: node }], nopLogger, 20).start(stop.signal);
    try {
      await counted(1);
      expect(kernel.pressure('cilium_ct4_global')).to.equal(512 / CT_MAX);
      expect(await registry.metrics()).to.contain(`cilium_bpf_map_pressure{map_name="cilium_ct4_global"} ${512 / CT_MAX}`);
      expect(events).to.deep.equal([]);
      // The datapath fills it to 93.75%: the next sample sees it and warns once, naming map and owner.
      fill(512, 1920);
      await counted(samples + 2);
      expect(kernel.pressure('cilium_ct4_global')).to.equal(1920 / CT_MAX);
      expect(events).to.deep.equal([`Warning MapPressure Node/n1: BPF map cilium_ct4_global is 94% full (1920 of ${CT_MAX} entries)`]);
      expect(lines.find((l) => l.msg === 'BPF map nearly full')).to.include({ map: 'cilium_ct4_global', owner: 'Node/n1', percent: 94 });
    } finally {
      stop.abort();
      await running;
    }
  });
});
