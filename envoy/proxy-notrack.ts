/**
 * Connection tracking off for the L7 proxies' traffic, as upstream's raw chains do it. A packet
 * handed to a proxy (the datapath's to-proxy mark) and what a proxy sends into a local pod's
 * interface (its own sockets' marks) are policed by the datapath's conntrack already; the kernel's
 * would track each of them again, and look up NAT for every new connection. What a proxy sends out
 * of the node stays tracked: it may need masquerading.
 * Untracked packets no longer count as ESTABLISHED for a host's stateful filter (INPUT or OUTPUT
 * dropping by default), so the same packets are accepted explicitly, as upstream does.
 */
import type { OwnedChain } from '../runtime/iptables-chains.ts';
import { MARK_MAGIC_PROXY_INGRESS, MARK_MAGIC_TO_PROXY } from './proxy-marks.ts';

/** The interfaces of this node's pods (the datapath's host-side veths). */
const POD_INTERFACES = 'lxc+';
const hex = (n: number) => `0x${n.toString(16)}`;
/** Packets handed to a proxy: the to-proxy magic, any port. */
const TO_PROXY = `-m mark --mark ${hex(MARK_MAGIC_TO_PROXY)}/0xf00`;
/** Packets a proxy sends: its ingress or egress mark (they differ in bit 8), nothing else set. */
const FROM_PROXY = `-o ${POD_INTERFACES} -m mark --mark ${hex(MARK_MAGIC_PROXY_INGRESS)}/0xfffffeff`;

/** The raw and filter chains for the proxies' traffic (upstream's names and comments). */
export const PROXY_NOTRACK_CHAINS: readonly OwnedChain[] = [
  { table: 'raw', name: 'CILIUM_PRE_raw', hook: 'PREROUTING', rules: [`${TO_PROXY} -m comment --comment "cilium: NOTRACK for proxy traffic" -j CT --notrack`] },
  { table: 'raw', name: 'CILIUM_OUTPUT_raw', hook: 'OUTPUT', rules: [`${FROM_PROXY} -m comment --comment "cilium: NOTRACK for proxy return traffic" -j CT --notrack`] },
  { table: 'filter', name: 'CILIUM_INPUT', hook: 'INPUT', rules: [`${TO_PROXY} -m comment --comment "cilium: ACCEPT for proxy traffic" -j ACCEPT`] },
  { table: 'filter', name: 'CILIUM_OUTPUT', hook: 'OUTPUT', rules: [`${FROM_PROXY} -m comment --comment "cilium: ACCEPT for proxy return traffic" -j ACCEPT`] },
];
