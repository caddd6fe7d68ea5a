// The LB desired state converged into real BPF maps: add before delete, ids taken over after a restart, drift repaired.
import { expect } from 'chai';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { readLbServices, LB_PROTO } from '../../datapath/maps/lb.ts';
import { LbSync } from '../../agent/lb-sync.ts';
import { requireBpf } from '../datapath/support/env.ts';

const TCP = LB_PROTO.TCP;
describe('LB sync (real BPF maps)', function () {
  let ep: LoadedEndpoint;
  const kernel = () => readLbServices(ep.maps.lb).map((s) => ({ f: `${s.frontend.ip}:${s.frontend.port}`, b: s.backends }));
  const fe = (ip: string, ...backends: string[]) => ({
    frontend: { ip, port: 80, proto: TCP }, backends: backends.map((b) => ({ ip: b, port: 8080, proto: TCP })),
  });

  before(function () {
    requireBpf(this);
  });
  beforeEach(() => {
    ep = loadEndpoint({ endpointId: 4, identity: 1 }, {
      maxEntries: { cilium_ct4_global: 1024, cilium_drop_aggr: 1024, cilium_lb4_ct: 1024, cilium_lb4_services_v2: 256, cilium_lb4_backends_v3: 256, cilium_lb4_reverse_nat: 256 },
    });
  });
  afterEach(() => ep?.close());

  it('writes services through and removes what is no longer needed', function () {
    const lb = new LbSync(ep.maps.lb);
    lb.prime();
    lb.upsert('default/a', [fe('10.96.0.1', '10.244.0.2', '10.244.1.3')]);
    lb.upsert('default/b', [fe('10.96.0.2', '10.244.0.2')]);
    expect(kernel()).to.deep.equal([
      { f: '10.96.0.1:80', b: ['10.244.0.2:8080/TCP', '10.244.1.3:8080/TCP'] },
      { f: '10.96.0.2:80', b: ['10.244.0.2:8080/TCP'] },
    ]);
    expect(ep.maps.lb.backends.entries()).to.have.length(2);
    lb.upsert('default/a', [fe('10.96.0.1', '10.244.1.3', '10.244.1.4')]);
    lb.remove('default/b');
    expect(kernel()).to.deep.equal([{ f: '10.96.0.1:80', b: ['10.244.1.3:8080/TCP', '10.244.1.4:8080/TCP'] }]);
    expect(ep.maps.lb.backends.entries()).to.have.length(2);
    expect(ep.maps.lb.revNat.entries()).to.have.length(1);
    expect(lb.list()).to.deep.equal([{ service: "default/a", frontend: "10.96.0.1:80/TCP", type: "ClusterIP", revNatIndex: 1, backends: ["10.244.1.3:8080/TCP", "10.244.1.4:8080/TCP"], algorithm: "random" }]);
  });

  it('repairs drift, prunes strangers, and keeps ids across a restart', function () {
    const lb = new LbSync(ep.maps.lb);
    lb.prime();
    lb.upsert('default/a', [fe('10.96.0.1', '10.244.0.2')]);
    lb.upsert('default/c', [fe('10.96.0.3', '10.244.0.9')]);
    expect(lb.reconcile()).to.deep.equal({ repaired: 0, pruned: 0 });
    const rn = ep.maps.lb.revNat.entries();
    ep.maps.lb.backends.deleteBatch(ep.maps.lb.backends.entries().map(([k]) => k).slice(0, 1));
    ep.maps.lb.revNat.update(999, { address: 1, port: 2 });
    expect(lb.reconcile()).to.deep.equal({ repaired: 1, pruned: 1 });
    expect(ep.maps.lb.revNat.entries()).to.deep.equal(rn);
    const again = new LbSync(ep.maps.lb);
    again.upsert('default/c', [fe('10.96.0.3', '10.244.0.9')]);
    again.upsert('default/a', [fe('10.96.0.1', '10.244.0.2')]);
    expect(ep.maps.lb.revNat.entries()).to.deep.equal(rn);
    expect(again.reconcile()).to.deep.equal({ repaired: 0, pruned: 0 });
  });

  it('after a restart, deletes nothing until primed with the complete state', function () {
    const lb = new LbSync(ep.maps.lb);
    lb.prime();
    lb.upsert('default/a', [fe('10.96.0.1', '10.244.0.2')]);
    lb.upsert('default/c', [fe('10.96.0.3', '10.244.0.9')]);
    const again = new LbSync(ep.maps.lb);
    again.upsert('default/a', [fe('10.96.0.1', '10.244.0.2', '10.244.0.7')]);
    expect(kernel()).to.deep.equal([
      { f: '10.96.0.1:80', b: ['10.244.0.2:8080/TCP', '10.244.0.7:8080/TCP'] },
      { f: '10.96.0.3:80', b: ['10.244.0.9:8080/TCP'] },
    ]);
    expect(again.reconcile().pruned).to.equal(0);
    expect(again.prime()).to.deep.equal({ repaired: 0, pruned: 4 });
    expect(kernel()).to.deep.equal([{ f: '10.96.0.1:80', b: ['10.244.0.2:8080/TCP', '10.244.0.7:8080/TCP'] }]);
  });

  it('a full services map leaves the rows that do not fit in error, and writes them once room frees up', async function () {
    const lb = new LbSync(ep.maps.lb);
    lb.prime();
    // 256 service rows fit: each of these frontends needs two (slot 0 and one backend slot).
    const frontends = Array.from({ length: 140 }, (_, i) => `10.96.1.${i + 1}`);
    expect(() => { for (const ip of frontends) lb.upsert(`default/s${ip}`, [fe(ip, '10.244.0.2')]); }).to.not.throw();
    expect(ep.maps.lb.services.entries()).to.have.length(256);
    const { error, rows } = lb.tables.services.counts();
    expect(rows).to.equal(280);
    expect(error).to.equal(24);
    expect(lb.tables.services.errors()[0]!.status).to.include({ kind: 'error' });
    // What was written keeps serving: the first frontends are complete in the kernel.
    expect(kernel().find((s) => s.f === '10.96.1.1:80')).to.deep.equal({ f: '10.96.1.1:80', b: ['10.244.0.2:8080/TCP'] });
    for (const ip of frontends.slice(0, 20)) lb.remove(`default/s${ip}`);
    for (let i = 0; i < 200 && lb.tables.services.counts().error > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(lb.tables.services.counts()).to.deep.equal({ rows: 240, pending: 0, error: 0 });
    expect(ep.maps.lb.services.entries()).to.have.length(240);
    lb.reconciler.disable();
  });
});
