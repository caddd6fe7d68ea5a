/**
 * The `cilium-config` keys the node setup reads (upstream's names and defaults), next to the
 * agent's own `bpf-root`, `cgroup-root`, `state-dir`, `socket-path` and `cni-exclusive`.
 */
import { isAbsolute } from 'node:path';
import { ConfigError, parseBool } from '../../runtime/settings.ts';

/** Node-setup keys with upstream's defaults. */
export const NODE_SETUP_SETTINGS: Readonly<Record<string, string>> = {
  // Remove Ciliate's CNI configuration when the agent pod stops.
  'cni-uninstall': 'false',
  // Remove the agent's state (endpoints, IPAM) and its pinned maps before it starts.
  'clean-cilium-state': 'false',
  // Remove only the pinned maps before it starts.
  'clean-cilium-bpf-state': 'false',
};

/** What the node setup does, validated. */
export interface NodeSetupConfig {
  cniUninstall: boolean;
  cleanState: boolean;
  cleanBpfState: boolean;
  bpfRoot: string;
  cgroupRoot: string;
  stateDir: string;
  socketPath: string;
}

/** Builds the node setup's settings from raw values (the config directory over the defaults). */
export function nodeSetupConfig(raw: Readonly<Record<string, string | undefined>>, defaults: Readonly<Record<string, string | undefined>>): NodeSetupConfig {
  const get = (name: string) => (raw[name] ?? NODE_SETUP_SETTINGS[name] ?? defaults[name] ?? '').trim();
  const path = (name: string) => {
    if (!isAbsolute(get(name))) throw new ConfigError(name, `"${get(name)}" is not an absolute path`);
    return get(name);
  };
  return {
    cniUninstall: parseBool('cni-uninstall', get('cni-uninstall')),
    cleanState: parseBool('clean-cilium-state', get('clean-cilium-state')),
    cleanBpfState: parseBool('clean-cilium-bpf-state', get('clean-cilium-bpf-state')),
    bpfRoot: path('bpf-root'),
    cgroupRoot: path('cgroup-root'),
    stateDir: path('state-dir'),
    socketPath: path('socket-path'),
  };
}
