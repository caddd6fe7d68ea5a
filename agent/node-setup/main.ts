/**
 * `ciliate-node-setup init | uninstall` (in the agent image as /opt/ciliate/node-setup.mjs): the
 * node setup the chart runs around the agent, reading the same `cilium-config` directory.
 *  - `init` (an init container): mounts a BPF filesystem at `bpf-root` and a cgroup v2 hierarchy
 *    at `cgroup-root` where the node lacks them, clears stale agent state when
 *    `clean-cilium-state`/`clean-cilium-bpf-state` ask, and copies the CNI plugin into the node's
 *    plugin folder. The agent writes `05-cilium.conflist` once it is ready
 *    (`write-cni-conf-when-ready`, agent/node-setup/cni-conf-writer.ts).
 *  - `uninstall` (the agent's preStop hook): removes Ciliate's CNI configuration when `cni-uninstall`.
 * Flags: `--config-dir`, `--cni-bin-dir` and `--cni-conf-dir` (where the node's folders are
 * mounted in the pod), `--plugin` (the plugin binary to install), `--skip-cni` (`cni.install`
 * false), `--skip-bpf-mount` (`bpf.autoMount.enabled` false: the host provides the BPF filesystem;
 * the agent reports a node without one, agent/node-setup/unusable-node.ts), `--skip-cgroup`
 * (`cgroup.autoMount.enabled` false). Exits 2 with one line naming the
 * setting that cannot work, also recorded as a Warning Event on the Node; the agent does not start
 * then, so the node never gets Ciliate's CNI configuration either.
 */
import { parseArgs } from 'node:util';
import { readSettingsDir } from '../../runtime/settings.ts';
import { AGENT_SETTINGS } from '../config/keys.ts';
import { NODE_NAME_ENV } from '../config/parse.ts';
import { cleanAgentState } from './clean-state.ts';
import { installPlugin, removeConflist } from './cni-install.ts';
import { ensureBpffs, ensureCgroup2 } from './mounts.ts';
import { reportSetupFailure } from './report.ts';
import { nodeSetupConfig } from './settings.ts';

/** Where the agent image keeps the plugin binary it installs. */
const IMAGE_PLUGIN = '/opt/ciliate/build/cni/ciliate-cni';

/** Runs one node-setup step; returns the lines it reports. */
export async function nodeSetup(argv: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      'config-dir': { type: 'string' }, 'cni-bin-dir': { type: 'string', default: '/host/opt/cni/bin' },
      'cni-conf-dir': { type: 'string', default: '/host/etc/cni/net.d' }, plugin: { type: 'string', default: IMAGE_PLUGIN },
      'skip-cni': { type: 'boolean', default: false }, 'skip-cgroup': { type: 'boolean', default: false },
      'skip-bpf-mount': { type: 'boolean', default: false },
    },
  });
  const step = positionals[0];
  const raw = values['config-dir'] ? readSettingsDir(values['config-dir']) : {};
  const cfg = nodeSetupConfig(raw, AGENT_SETTINGS);
  const out: string[] = [];
  if (step === 'uninstall') {
    if (cfg.cniUninstall) out.push(removeConflist(values['cni-conf-dir']) ? 'removed the CNI configuration' : 'no CNI configuration to remove');
    else out.push('cni-uninstall is false: the CNI configuration stays');
    return out;
  }
  if (step !== 'init') throw new Error(`unknown step "${step ?? ''}" (expected init or uninstall)`);
  if (values['skip-bpf-mount']) out.push(`bpf-root ${cfg.bpfRoot}: not mounted here (bpf.autoMount.enabled is false: the host provides it)`);
  else out.push(`bpf-root ${cfg.bpfRoot}: BPF filesystem ${await ensureBpffs(cfg.bpfRoot)}`);
  if (!values['skip-cgroup']) out.push(`cgroup-root ${cfg.cgroupRoot}: cgroup v2 ${await ensureCgroup2(cfg.cgroupRoot)}`);
  if (cfg.cleanState || cfg.cleanBpfState) {
    const nodeName = (env[NODE_NAME_ENV] ?? '').trim();
    if (!nodeName) throw new Error(`${NODE_NAME_ENV}: the node name is needed to clean its state`);
    const c = cleanAgentState({ nodeName, bpfRoot: cfg.bpfRoot, stateDir: cfg.stateDir, all: cfg.cleanState, keep: [cfg.cgroupRoot] });
    out.push(`cleaned state: pins ${c.pins ? 'removed' : 'absent'}, ${c.stateEntries} state entries removed`);
  }
  if (values['skip-cni']) return [...out, 'cni.install is false: no CNI plugin installed'];
  out.push(`CNI plugin installed at ${installPlugin(values.plugin, values['cni-bin-dir'])}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  nodeSetup(process.argv.slice(2), process.env).then(
    (lines) => {
      for (const l of lines) console.log(`ciliate-node-setup: ${l}`);
    },
    async (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      console.error(`ciliate-node-setup: ${message}`);
      const node = (process.env[NODE_NAME_ENV] ?? '').trim();
      if (node && !(await reportSetupFailure(node, `node setup failed: ${message}`, process.env))) console.error('ciliate-node-setup: could not record the failure as an Event on the Node');
      process.exit(2);
    },
  );
}
