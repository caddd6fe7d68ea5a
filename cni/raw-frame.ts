/**
 * The raw framing the native relay (cni/shim/ciliate-cni.c) speaks to the agent, so that the relay
 * needs no JSON. Request: `ciliate-cni-raw 1\n`, a `KEY=VALUE\n` line for each forwarded CNI_*
 * variable that is set, an empty line, then the plugin's stdin until the client half-closes.
 * Answer: the plugin's exit code in decimal, `\n`, then exactly what it prints on stdout.
 */
import { CniCode, CniError } from './spec.ts';
import type { PluginOutcome } from './plugin.ts';

/** The first bytes of every raw request (JSON-line requests start with `{`). */
export const RAW_MAGIC = Buffer.from('ciliate-cni-raw 1\n');

/** The environment variables a raw request may carry. */
export const RAW_ENV_KEYS: readonly string[] = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'];

/** One plugin invocation as the relay saw it. */
export interface RawRequest {
  /** The forwarded CNI_* variables that were set. */
  env: Record<string, string>;
  /** The configuration text. */
  stdin: string;
}

/** Whether `head`, the first bytes of a request, is a raw one; undefined while too few bytes have come to tell. */
export function isRawFrame(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, RAW_MAGIC.length);
  if (!head.subarray(0, n).equals(RAW_MAGIC.subarray(0, n))) return false;
  return n === RAW_MAGIC.length ? true : undefined;
}

/** Decodes a whole raw request; throws a {@link CniError} (code 6) when it is malformed or cut short. */
export function parseRawFrame(frame: Buffer): RawRequest {
  if (isRawFrame(frame) !== true) throw undecodable('it does not start with the raw framing line');
  const env: Record<string, string> = {};
  let at = RAW_MAGIC.length;
  for (;;) {
    const nl = frame.indexOf(0x0a, at);
    if (nl < 0) throw undecodable('its header has no end');
    const line = frame.toString('utf8', at, nl);
    at = nl + 1;
    if (line === '') return { env, stdin: frame.toString('utf8', at) };
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    if (eq < 0 || !RAW_ENV_KEYS.includes(key)) throw undecodable(`unexpected header line "${line.slice(0, 40)}"`);
    if (Object.hasOwn(env, key)) throw undecodable(`${key} comes twice`);
    env[key] = line.slice(eq + 1);
  }
}

/** The raw answer for `outcome`. */
export function rawAnswer(outcome: PluginOutcome): string {
  return `${outcome.exitCode}\n${outcome.stdout}`;
}

function undecodable(details: string): CniError {
  return new CniError(CniCode.DecodeFailure, 'cannot decode the request', details);
}
