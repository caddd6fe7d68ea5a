/** The request/response protocol between the `ciliate-cni` plugin and its node's agent: one JSON line each way per connection. */
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

/** Sends `req` to the agent listening on `socket` and returns its result, or throws a {@link CniError}. */
export function askAgent(socket: string, req: AgentRequest, timeoutMs = 120_000): Promise<CniResult | undefined> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new CniError(CniCode.TryAgainLater, 'the agent did not answer in time', `socket ${socket}`));
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
      let res: AgentResponse;
      try {
        res = JSON.parse(buf) as AgentResponse;
      } catch {
        reject(new CniError(CniCode.IoFailure, 'the agent sent an unreadable answer', buf.slice(0, 200)));
        return;
      }
      if (res.ok) resolve(res.result);
      else reject(new CniError(res.code, res.msg, res.details));
    });
  });
}
