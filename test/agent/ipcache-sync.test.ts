import { expect } from 'chai';
import { loadEndpoint, type LoadedEndpoint } from '../../datapath/loader.ts';
import { ipcacheEntry, ipcacheKeyCidr } from '../../datapath/maps/ipcache.ts';
import { IpcacheSync } from '../../agent/ipcache-sync.ts';
import { requireBpf } from '../datapath/support/env.ts';

describe('ipcache sync (real BPF LPM map)', function () {
  let ep: LoadedEndpoint;
  let sync: IpcacheSync;
  const kernel = () => Object.fromEntries(ep.maps.ipcache.entries().map(([k, v]) => [ipcacheKeyCidr(k), v.secIdentity]));

  before(function () {
    requireBpf(this);
  });
  beforeEach(() => {
    ep = loadEndpoint({ endpointId: 3, identity: 1 }, { maxEntries: { cilium_ct4_global: 1024, cilium_drop_aggr: 1024 } });
    sync = new IpcacheSync(ep.maps.ipcache);
  });
  afterEach(() => ep?.close());

  it('writes claims through, the strongest source winning', () => {
    sync.upsert('node', '172.29.1.11', { identity: 6 });
    sync.upsert('cidr', '10.0.0.0/8', { identity: 16777217 });
    sync.upsert('endpoint', '10.244.1.5', { identity: 20001, tunnelEndpoint: '172.29.1.11' });
    expect(kernel()).to.deep.equal({ '172.29.1.11/32': 6, '10.0.0.0/8': 16777217, '10.244.1.5/32': 20001 });
    sync.upsert('cidr', '10.244.1.5/32', { identity: 16777218 });
    expect(kernel()['10.244.1.5/32']).to.equal(20001);
    sync.remove('endpoint', '10.244.1.5');
    expect(kernel()['10.244.1.5/32']).to.equal(16777218);
    sync.remove('cidr', '10.244.1.5/32');
    expect(kernel()).to.not.have.property('10.244.1.5/32');
  });

  it('repairs drift and prunes rows nobody claims', () => {
    sync.upsert('endpoint', '10.244.1.6', { identity: 20002 });
    sync.upsert('node', '172.29.1.12', { identity: 6 });
    expect(sync.reconcile()).to.deep.equal({ repaired: 0, pruned: 0 });
    ep.maps.ipcache.update(...ipcacheEntry('10.244.1.6/32', 4242));
    ep.maps.ipcache.update(...ipcacheEntry('192.168.77.0/24', 7));
    ep.maps.ipcache.delete(ipcacheEntry('172.29.1.12/32', 0)[0]);
    expect(sync.reconcile()).to.deep.equal({ repaired: 2, pruned: 1 });
    expect(kernel()).to.deep.equal({ '10.244.1.6/32': 20002, '172.29.1.12/32': 6 });
  });
});
