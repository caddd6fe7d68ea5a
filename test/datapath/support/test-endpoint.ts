// An endpoint loaded on its own for BPF_PROG_TEST_RUN tests.
import { loadEndpoint, type LoadedEndpoint } from '../../../datapath/loader.ts';
import { ipcacheEntry } from '../../../datapath/maps/ipcache.ts';
import { setEnforcement } from '../../../datapath/maps/policy.ts';

/**
 * Loads endpoint `endpointId` with `identity` (small conntrack and drop tables), puts each address of
 * `identities` (address -> identity) in its ipcache and enforces both directions.
 */
export function testEndpoint(endpointId: number, identity: number, identities: Record<string, number>): LoadedEndpoint {
  const ep = loadEndpoint({ endpointId, identity }, { maxEntries: { cilium_ct4_global: 4096, cilium_drop_aggr: 4096 } });
  ep.maps.ipcache.updateBatch(Object.entries(identities).map(([ip, id]) => ipcacheEntry(`${ip}/32`, id)));
  setEnforcement(ep.maps.policyConfig, true, true);
  return ep;
}
