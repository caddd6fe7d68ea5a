/**
 * Entry point of `ciliate-agent`, configured as upstream's agent: flags (`--config-dir`,
 * `--k8s-kubeconfig-path`, any setting as `--name=value`), `CILIUM_*` environment variables, the
 * mounted `cilium-config` directory, and the node name from `K8S_NODE_NAME`. A setting that cannot
 * work exits 2 with one line naming it; ignored settings are logged as warnings. A node the agent
 * cannot set up (no BPF filesystem at `bpf-root`, ...) is reported and held, not exited on
 * (agent/node-setup/unusable-node.ts).
 */
import { hostname } from 'node:os';
import { createLogger } from '../runtime/logger.ts';
import { runUntilSignalled } from '../runtime/process-main.ts';
import { ConfigError, parseFlags, readSettingsDir } from '../runtime/settings.ts';
import { runAgent } from './agent.ts';
import { isAgentFlag } from './config/keys.ts';
import { loadAgentConfig, type LoadedConfig } from './config/parse.ts';
import { NodeUnusableError } from './host-checks.ts';
import { holdUnusableNode } from './node-setup/unusable-node.ts';

/** Exit code for a configuration the agent cannot run with. */
export const EXIT_BAD_CONFIG = 2;

/** Writes the one-line explanation of a rejected configuration and exits. */
function rejectConfig(err: ConfigError): never {
  process.stderr.write(`ciliate-agent: ${err.message}\n`);
  process.exit(EXIT_BAD_CONFIG);
}

let loaded: LoadedConfig;
try {
  loaded = loadAgentConfig({ flags: parseFlags(process.argv.slice(2), isAgentFlag), env: process.env, readDir: readSettingsDir, hostname: hostname() });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  rejectConfig(err);
}
const { config, warnings } = loaded;
const log = createLogger({ level: config.debug ? 'debug' : 'info', fields: { component: 'agent', node: config.nodeName } });
for (const w of warnings) log.warn(w);
runUntilSignalled('agent', log, (signal) => runAgent(config, log, signal).catch((err: unknown) => {
  if (err instanceof NodeUnusableError) return holdUnusableNode(config, err, process.env, log, signal);
  if (err instanceof ConfigError) rejectConfig(err);
  throw err;
}));
