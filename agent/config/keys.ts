/**
 * The agent's settings by upstream name: those it acts on, with upstream's defaults, and those it
 * accepts from a Cilium `cilium-config` without acting on them. What each one does in Ciliate is
 * listed in the README ("The agent's configuration").
 */
import { SETTINGS as OPERATOR_SETTINGS } from '../../operator/config.ts';
import { NODE_SETUP_SETTINGS } from '../node-setup/settings.ts';

/** Every setting the agent acts on, with its default (undefined = unset). */
export const AGENT_SETTINGS: Readonly<Record<string, string | undefined>> = {
  'config-dir': undefined,
  'k8s-kubeconfig-path': undefined,
  'cluster-name': 'default',
  'cluster-id': '0',
  'enable-policy': 'default',
  'identity-allocation-mode': 'crd',
  'enable-ipv4': 'true',
  'enable-ipv6': 'false',
  ipam: 'cluster-pool',
  // Upstream's default is tunnel, which Ciliate does not build; native is what it does.
  'routing-mode': 'native',
  'ipv4-native-routing-cidr': '',
  'auto-direct-node-routes': 'false',
  'enable-ipv4-masquerade': 'true',
  'kube-proxy-replacement': 'false',
  'bpf-lb-algorithm': 'random',
  'bpf-policy-map-max': '16384',
  'enable-k8s-networkpolicy': 'true',
  // Upstream's values are '' and nodes; Ciliate adds pods (NetworkPolicy ipBlocks select pods by address).
  'policy-cidr-match-mode': '',
  'enable-hubble': 'false',
  'hubble-socket-path': '/var/run/cilium/hubble.sock',
  'hubble-listen-address': '',
  'hubble-event-buffer-capacity': '4095',
  // Ciliate's own: a JSON-lines log of every decided flow (relative: inside state-dir); empty: none.
  'flow-log-path': '',
  'hubble-metrics': '',
  'hubble-metrics-server': ':9965',
  labels: '',
  // The DNS proxy and toFQDNs (upstream's defaults).
  'tofqdns-min-ttl': '0',
  'tofqdns-idle-connection-grace-period': '0s',
  'tofqdns-endpoint-max-ip-per-hostname': '1000',
  'tofqdns-dns-reject-response-code': 'refused',
  'tofqdns-proxy-response-max-delay': '100ms',
  // The HTTP proxy runs apart (the chart's cilium-envoy DaemonSet): the agent connects to it, never starts one.
  'external-envoy-proxy': 'false',
  // How the HTTP proxy closes its upstream connections (seconds; -1 in the background, 0 with a reset).
  'envoy-http-upstream-linger-timeout': '-1',
  'prometheus-serve-addr': ':9962',
  'ipv4-node': 'auto',
  'bpf-root': '/sys/fs/bpf',
  'cgroup-root': '/run/cilium/cgroupv2',
  'state-dir': '/var/run/cilium',
  'socket-path': '/var/run/cilium/cilium.sock',
  'agent-health-port': '9879',
  // Once ready, write the CNI configuration there (the chart's /host/etc/cni/net.d/05-cilium.conflist).
  'write-cni-conf-when-ready': '',
  'cni-exclusive': 'true',
  debug: 'false',
};

/**
 * Upstream agent settings Ciliate accepts but does not act on, each with the value that describes
 * what Ciliate does anyway; any other value is logged as not supported and ignored.
 */
export const FIXED_SETTINGS: Readonly<Record<string, string>> = {
  'bpf-lb-mode': 'snat',
  'bpf-lb-maglev-table-size': '16381',
  'bpf-lb-map-max': '65536',
  'service-no-backend-response': 'reject',
  'monitor-aggregation': 'medium',
  'tunnel-protocol': 'vxlan',
  'enable-l7-proxy': 'true',
  'enable-bpf-masquerade': 'false',
  'enable-host-firewall': 'false',
  'enable-endpoint-routes': 'false',
  'enable-bandwidth-manager': 'false',
  'enable-ipsec': 'false',
  'enable-wireguard': 'false',
  'enable-local-redirect-policy': 'false',
  'enable-ipv4-egress-gateway': 'false',
  'enable-l2-announcements': 'false',
  'enable-bgp-control-plane': 'false',
  'enable-health-checking': 'true',
  'enable-endpoint-health-checking': 'true',
  'install-iptables-rules': 'true',
};

/** Whether `name` is a flag the agent's command line takes (its own settings and the accepted ones). */
export function isAgentFlag(name: string): boolean {
  return name in AGENT_SETTINGS || name in FIXED_SETTINGS;
}

/** Whether `name` belongs to another component reading the same ConfigMap (the operator, the node setup). */
export function isOtherComponentSetting(name: string): boolean {
  return (name in OPERATOR_SETTINGS || name in NODE_SETUP_SETTINGS) && !isAgentFlag(name);
}
