/**
 * The `ciliate-cni` plugin's logic, independent of process I/O: validates the environment and the
 * configuration per the CNI specification, answers VERSION itself and forwards ADD, DEL, CHECK and
 * STATUS to the node's agent over its root-only unix socket. The agent runs it too, on the raw
 * frames of the native relay (cni/shim/ciliate-cni.c), with itself as the forwarder.
 */
import { askAgent, type AskAgent } from './protocol.ts';
import { CniCode, CniError, parseCniArgs, SUPPORTED_VERSIONS, validContainerId, validIfName, type CniResult, type PluginConfig } from './spec.ts';

/** What one invocation printed and how it exits. */
export interface PluginOutcome {
  stdout: string;
  exitCode: number;
}

/** Ciliate's keys in the plugin configuration. */
interface CiliateConfig extends PluginConfig {
  /** The agent's socket, e.g. /run/ciliate/<node>/agent.sock. */
  socket?: string;
  mtu?: number;
}

/** Runs one plugin invocation with environment `env` and configuration text `stdin`; `ask` forwards to the agent. */
export async function runPlugin(env: NodeJS.ProcessEnv, stdin: string, ask: AskAgent = askAgent): Promise<PluginOutcome> {
  let version = '1.0.0';
  try {
    const command = env.CNI_COMMAND;
    if (command === 'VERSION') {
      version = versionOf(stdin) ?? version;
      return ok({ cniVersion: version, supportedVersions: [...SUPPORTED_VERSIONS] });
    }
    const config = parseConfig(stdin);
    version = config.cniVersion;
    if (!(SUPPORTED_VERSIONS as readonly string[]).includes(config.cniVersion)) {
      throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI version ${config.cniVersion}`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    if (typeof config.socket !== 'string' || !config.socket) throw new CniError(CniCode.InvalidConfig, 'the configuration has no "socket"');
    if (config.mtu !== undefined && (!Number.isInteger(config.mtu) || config.mtu < 576 || config.mtu > 65535)) {
      throw new CniError(CniCode.InvalidConfig, `invalid "mtu" ${String(config.mtu)}`);
    }
    switch (command) {
      case 'STATUS':
        await ask(config.socket, { command, containerId: '', netns: '', ifName: '', args: {}, cniVersion: version });
        return ok(undefined);
      case 'ADD':
      case 'DEL':
      case 'CHECK': {
        const containerId = required(env, 'CNI_CONTAINERID');
        if (!validContainerId(containerId)) throw new CniError(CniCode.InvalidEnvironment, `invalid CNI_CONTAINERID "${containerId}"`);
        const ifName = required(env, 'CNI_IFNAME');
        if (!validIfName(ifName)) throw new CniError(CniCode.InvalidEnvironment, `invalid CNI_IFNAME "${ifName}"`);
        // DEL may come without a namespace (it may already be gone); ADD and CHECK need one.
        const netns = command === 'DEL' ? env.CNI_NETNS ?? '' : required(env, 'CNI_NETNS');
        if (command === 'CHECK' && !config.prevResult) throw new CniError(CniCode.InvalidConfig, 'CHECK needs "prevResult"');
        required(env, 'CNI_PATH');
        const result = await ask(config.socket, {
          command, containerId, netns, ifName, args: parseCniArgs(env.CNI_ARGS), cniVersion: version,
          ...(config.mtu !== undefined ? { mtu: config.mtu } : {}),
          ...(config.prevResult ? { prevResult: config.prevResult } : {}),
        });
        return ok(command === 'ADD' ? result : undefined);
      }
      default:
        throw new CniError(CniCode.InvalidEnvironment, `unknown CNI_COMMAND "${command ?? ''}"`, 'expected ADD, DEL, CHECK, STATUS or VERSION');
    }
  } catch (err) {
    return failed(err, version);
  }
}

/** The outcome of an invocation that failed with `err`: the error in the specification's format for `version`, exit 1. */
export function failed(err: unknown, version = '1.0.0'): PluginOutcome {
  const e = err instanceof CniError ? err : new CniError(CniCode.IoFailure, (err as Error).message);
  return { stdout: JSON.stringify(e.toBody(version)) + '\n', exitCode: 1 };
}

function ok(value: CniResult | Record<string, unknown> | undefined): PluginOutcome {
  return { stdout: value === undefined ? '' : JSON.stringify(value) + '\n', exitCode: 0 };
}

function required(env: NodeJS.ProcessEnv, key: string): string {
  const v = env[key];
  if (!v) throw new CniError(CniCode.InvalidEnvironment, `${key} is not set`);
  return v;
}

function versionOf(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function parseConfig(stdin: string): CiliateConfig {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.DecodeFailure, 'cannot decode the network configuration', (err as Error).message);
  }
  const c = value as Partial<CiliateConfig> | null;
  if (!c || typeof c !== 'object' || typeof c.cniVersion !== 'string' || typeof c.name !== 'string') {
    throw new CniError(CniCode.InvalidConfig, 'the network configuration needs string "cniVersion" and "name"');
  }
  return c as CiliateConfig;
}
