// Which backend a pod's connection went to, read from the node's conntrack: works whether the
// Service was translated at connect() (socket-level) or per packet, since conntrack keys the
// flow by the backend either way.
import { join } from 'node:path';
import { nodePinRoot } from '../../cluster/node-config.ts';
import { ctEntryCodec, ctKeyCodec } from '../../datapath/codecs/generated.ts';
import { BpfMap } from '../../datapath/maps/bpf-map.ts';
import { ipv4ToNumber, numberToIpv4 } from '../../datapath/net.ts';

/** The destination address of the egress flow from `ip`:`port` on `node` of `cluster`, if tracked. */
export function flowBackend(cluster: string, node: string, ip: string, port: number): string | undefined {
  using ct = BpfMap.openPinned(join(nodePinRoot(cluster, node), 'cilium_ct4_global'), ctKeyCodec, ctEntryCodec);
  const src = ipv4ToNumber(ip);
  const hit = ct.entries().find(([k]) => k.saddr === src && k.sport === port && k.dir === 2);
  return hit ? numberToIpv4(hit[0].daddr) : undefined;
}
