/**
 * The agent's side of the native relay's raw frames: the plugin logic (cni/plugin.ts) runs here,
 * in the agent, with the agent's own request handler standing in for the socket round trip.
 */
import { runPlugin, failed } from '../cni/plugin.ts';
import { AGENT_TIMEOUT_MS, agentTimedOut, resultOf, type AskAgent } from '../cni/protocol.ts';
import { parseRawFrame, rawAnswer, type RawRequest } from '../cni/raw-frame.ts';
import type { RequestHandler } from './cni-server.ts';

/** Answers one whole raw request `frame` with `handle`; the answer is in the raw framing. */
export async function answerRawFrame(frame: Buffer, handle: RequestHandler): Promise<string> {
  let request: RawRequest;
  try {
    request = parseRawFrame(frame);
  } catch (err) {
    return rawAnswer(failed(err));
  }
  // The configuration's socket is only named in a timeout's details: the request is answered here, never forwarded.
  const ask: AskAgent = (socket, req) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(agentTimedOut(socket)), AGENT_TIMEOUT_MS)));
    return Promise.race([handle(req).then(resultOf), late]).finally(() => clearTimeout(timer));
  };
  return rawAnswer(await runPlugin(request.env, request.stdin, ask));
}
