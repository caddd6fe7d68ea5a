// The kernel tables' view: map pressure gauge and its 90% warning (log and Event naming map and
// owner), a Warning when rows start failing, per table counts in health and metrics, drift counted.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { KernelTables } from '../../agent/kernel-tables.ts';
import { DesiredTable } from '../../runtime/reconciler/table.ts';
import { TableReconciler } from '../../runtime/reconciler/reconciler.ts';
import type { Operations } from '../../runtime/reconciler/operations.ts';
import { createLogger } from '../../runtime/logger.ts';

const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } };

describe('agent: kernel tables (health, pressure, errors)', () => {
  let lines: Record<string, unknown>[];
  let events: string[];
  let kernel: KernelTables;
  /** A target refusing keys that start with `bad`. */
  const fakeMap = (target = new Map<string, number>()): Operations<string, number> & { target: Map<string, number> } => ({
    target,
    update: (k, v) => {
      if (k.startsWith('bad')) throw new Error(`refused ${k}`);
      target.set(k, v);
    },
    delete: (k) => void target.delete(k),
    list: () => [...target],
  });
  const table = (name: string) => new DesiredTable<string, number>(name, (k) => k, (a, b) => a === b);

  beforeEach(() => {
    lines = [];
    events = [];
    kernel = new KernelTables(createLogger({ write: (l) => lines.push(JSON.parse(l)) }), {
      event: (o, type, reason, _action, note) => events.push(`${type} ${reason} ${o.kind}/${o.metadata?.name}: ${note}`),
    });
  });

  it('warns once at 90% of a map, naming map and owner, and re-arms below', () => {
    const t = table('cilium_ipcache');
    kernel.register({ mapName: 'cilium_ipcache', group: 'cilium_ipcache', table: t, capacity: 10, owner: node });
    t.batch(() => { for (let i = 0; i < 8; i++) t.set(`k${i}`, i, 'x'); });
    expect(events).to.deep.equal([]);
    t.set('k8', 8, 'x');
    t.set('k9', 9, 'x');
    expect(events).to.deep.equal(['Warning MapPressure Node/n1: BPF map cilium_ipcache is 90% full (9 of 10 entries)']);
    expect(lines.find((l) => l.msg === 'BPF map nearly full')).to.include({ map: 'cilium_ipcache', owner: 'Node/n1', percent: 90 });
    expect(kernel.pressure('cilium_ipcache')).to.equal(1);
    for (let i = 0; i < 4; i++) t.delete(`k${i}`);
    t.set('k0', 0, 'x');
    t.set('k1', 1, 'x');
    t.set('k2', 2, 'x');
    expect(events).to.have.length(2);
  });

  it('reports failing rows (Event on the owner, callback), counts them per group in health and metrics', async () => {
    const registry = new Registry();
    kernel.registerMetrics(registry);
    const changes: boolean[] = [];
    const a = table('cilium_policy_v2_00001');
    const b = table('cilium_policy_v2_00002');
    kernel.register({ mapName: a.name, group: 'cilium_policy_v2', table: a, capacity: 100, owner: pod, onErrorsChanged: (e) => changes.push(e) });
    kernel.register({ mapName: b.name, group: 'cilium_policy_v2', table: b, capacity: 100, owner: pod });
    const [opsA, opsB] = [fakeMap(), fakeMap()];
    const r = new TableReconciler({ name: 'p', tables: [{ table: a, ops: opsA }, { table: b, ops: opsB }], observer: kernel.observer });
    r.enable();
    a.batch(() => {
      a.set('good', 1, 'CiliumNetworkPolicy/default/x');
      a.set('bad1', 1, 'CiliumNetworkPolicy/default/y');
    });
    b.set('good2', 1, 'z');
    b.set('held', 1, 'w', 'room in cilium_policy_v2_00002');
    expect(changes).to.deep.equal([true]);
    expect(events).to.deep.equal([
      'Warning MapWriteFailed Pod/p: rows of BPF map cilium_policy_v2_00001 not written: refused bad1',
      'Warning MapFull Pod/p: BPF map cilium_policy_v2_00002 is full: 1 rows wait for room in cilium_policy_v2_00002',
    ]);
    expect(kernel.health()).to.deep.equal({
      status: 'degraded',
      tables: { cilium_policy_v2: { rows: 4, pending: 1, error: 1 } },
      errors: [{ map: 'cilium_policy_v2_00001', origin: 'CiliumNetworkPolicy/default/y', message: 'refused bad1' }],
      // A row held for room is pending, not an error; health names what it waits for.
      waiting: [{ map: 'cilium_policy_v2_00002', origin: 'w', message: 'waiting for room in cilium_policy_v2_00002' }],
    });
    a.delete('bad1');
    opsA.target.delete('good');
    r.refresh();
    expect(changes).to.deep.equal([true, false]);
    expect(kernel.health().status).to.equal('ok');
    const text = await registry.metrics();
    expect(text).to.contain('cilium_bpf_map_pressure{map_name="cilium_policy_v2_00001"} 0.01');
    expect(text).to.contain('ciliate_reconciler_rows{table="cilium_policy_v2",status="error"} 0');
    expect(text).to.contain('ciliate_reconciler_refresh_total{table="cilium_policy_v2_00001",action="repaired"} 1');
    expect(text).to.contain('ciliate_datapath_drift_repairs_total 1');
  });
});
