/**
 * The request/response protocol between the `ciliate-cni` plugin and its node's agent: one JSON line
 * each way per connection. (The native relay sends raw frames instead: cni/raw-frame.ts.)
 */
import { connect } from 'node:net';
import { CniCode, CniError, type CniResult } from './spec.ts';

/** What the plugin asks the agent. VERSION is answered by the plugin itself. */
export interface AgentRequest {
  command: 'ADD' | 'DEL' | 'CHECK' | 'STATUS';
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS, parsed (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, ...). */
  args: Record<string, string>;
  cniVersion: string;
  /** Interface MTU from the plugin configuration. */
  mtu?: number;
  prevResult?: CniResult;
}

/** The agent's answer. */
export type AgentResponse =
  | { ok: true; result?: CniResult }
  | { ok: false; code: number; msg: string; details?: string };

/** How the plugin logic reaches the agent: over its socket from the plugin, or in-process inside the agent. */
export type AskAgent = (socket: string, req: AgentRequest) => Promise<CniResult | undefined>;

/** How long the plugin waits for the agent's answer. */
export const AGENT_TIMEOUT_MS = 120_000;

/** The error of an agent that did not answer within {@link AGENT_TIMEOUT_MS}. */
export function agentTimedOut(socket: string): CniError {
  return new CniError(CniCode.TryAgainLater, 'the agent did not answer in time', `socket ${socket}`);
}

/** The result an agent's answer carries; its error is thrown as a {@link CniError}. */
export function resultOf(res: AgentResponse): CniResult | undefined {
  if (res.ok) return res.result;
  throw new CniError(res.code, res.msg, res.details);
}

/** Sends `req` to the agent listening on `socket` and returns its result, or throws a {@link CniError}. */
export function askAgent(socket: string, req: AgentRequest, timeoutMs = AGENT_TIMEOUT_MS): Promise<CniResult | undefined> {
  return new Promise<AgentResponse>((resolve, reject) => {
    const conn = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(agentTimedOut(socket));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (d) => (buf += d));
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(new CniError(CniCode.PluginNotAvailable, 'cannot reach the node agent', `${socket}: ${err.message}`));
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as AgentResponse);
      } catch {
        reject(new CniError(CniCode.IoFailure, 'the agent sent an unreadable answer', buf.slice(0, 200)));
      }
    });
  }).then(resultOf);
}
