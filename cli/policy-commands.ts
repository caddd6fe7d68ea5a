/**
 * `ciliate policy get` (each agent's policy revision) and `ciliate policy wait <revision>` (until
 * each selected agent's kernel holds that revision for all its endpoints), as `cilium-dbg policy get`
 * and `cilium-dbg policy wait`, through each agent's local API socket.
 */
import { join } from 'node:path';
import { AGENT_API_SOCKET, policyRevisionOf, waitForPolicyRevision } from '../agent/policy-api.ts';
import { flag, type Args } from './args.ts';
import { nodesOf, printTable } from './service-commands.ts';

/** Usage of the two commands. */
export const POLICY_USAGE = `  policy get [--name C] [--node N]          each agent's policy revision
  policy wait REV [--name C] [--node N] [--timeout S]   until each agent's kernel holds revision REV for all endpoints`;

/** Prints each selected agent's policy revision. */
export async function policyGetCommand(args: Args): Promise<number> {
  const rows = [['NODE', 'REVISION']];
  for (const node of nodesOf(args)) rows.push([node.name, String(await policyRevisionOf(join(node.stateDir, AGENT_API_SOCKET)))]);
  printTable(rows);
  return 0;
}

/** Waits on every selected agent; 1 when some endpoint's rows are not in the kernel. */
export async function policyWaitCommand(args: Args): Promise<number> {
  const raw = args.words[2];
  if (raw === undefined || !/^\d+$/.test(raw)) throw new Error(`usage: ciliate policy wait REV (a revision number, not "${raw ?? ''}")`);
  const timeout = flag(args, 'timeout') ?? '30';
  if (!/^\d+$/.test(timeout)) throw new Error(`--timeout must be a number of seconds, not "${timeout}"`);
  const rows = [['NODE', 'REVISION', 'ENDPOINTS', 'NOT IN KERNEL']];
  let failed = false;
  for (const node of nodesOf(args)) {
    const r = await waitForPolicyRevision(join(node.stateDir, AGENT_API_SOCKET), Number(raw), Number(timeout));
    failed ||= r.failed.length > 0;
    rows.push([node.name, String(r.revision), String(r.endpoints), r.failed.map((f) => `endpoint ${f.endpoint}: ${f.rows} rows (${f.message})`).join('; ') || '-']);
  }
  printTable(rows);
  return failed ? 1 : 0;
}
