/**
 * The agent's CNI endpoint: a unix socket only root can open (folder 0700, socket 0600). Two
 * framings share it, told apart by a connection's first bytes: the TypeScript plugin sends one
 * JSON request line and reads one JSON answer (cni/protocol.ts); the native relay sends a raw frame
 * and half-closes, and the plugin logic then runs here (cni/raw-frame.ts, agent/cni-raw.ts).
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { AgentRequest, AgentResponse } from '../cni/protocol.ts';
import { failed } from '../cni/plugin.ts';
import { isRawFrame, rawAnswer } from '../cni/raw-frame.ts';
import { CniCode, CniError } from '../cni/spec.ts';
import { answerRawFrame } from './cni-raw.ts';

/** Handles one decoded request. */
export type RequestHandler = (req: AgentRequest) => Promise<AgentResponse>;

/** Largest request accepted, in bytes, in either framing. */
const MAX_REQUEST = 1 << 20;

/** Listens on `socket` and answers with `handle`; resolves once listening. */
export function serveCni(socket: string, handle: RequestHandler): Promise<Server> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  chmodSync(dirname(socket), 0o700);
  rmSync(socket, { force: true });
  // Half-open: a raw request ends when the relay shuts its side, and the answer still goes back.
  const server = createServer({ allowHalfOpen: true }, (conn) => serveConnection(conn, handle));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The umask keeps the socket private from the moment it exists; chmod makes it explicit.
    const umask = process.umask(0o177);
    server.listen(socket, () => {
      process.umask(umask);
      chmodSync(socket, 0o600);
      resolve(server);
    });
  });
}

/** Reads one request from `conn` in whichever framing it comes, and answers it. */
function serveConnection(conn: Socket, handle: RequestHandler): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let raw: boolean | undefined;
  /** Set once the request is in hand (or refused): later bytes and the half-close change nothing. */
  let taken = false;
  const reply = (text: string) => conn.end(text);
  const replyJson = (res: AgentResponse) => reply(JSON.stringify(res) + '\n');
  conn.on('error', () => conn.destroy());
  conn.on('data', (chunk: Buffer) => {
    if (taken) return;
    chunks.push(chunk);
    size += chunk.length;
    if (raw === undefined) raw = isRawFrame(Buffer.concat(chunks));
    if (size > MAX_REQUEST) {
      taken = true;
      const tooLarge = new CniError(CniCode.DecodeFailure, 'request too large');
      return raw ? reply(rawAnswer(failed(tooLarge))) : replyJson({ ok: false, code: tooLarge.code, msg: tooLarge.message });
    }
    // Until its first newline no earlier chunk held one, so the request line ends in this chunk.
    if (raw !== false || chunk.indexOf(0x0a) < 0) return;
    taken = true;
    const text = Buffer.concat(chunks).toString('utf8');
    let req: AgentRequest;
    try {
      req = JSON.parse(text.slice(0, text.indexOf('\n'))) as AgentRequest;
    } catch (err) {
      return replyJson({ ok: false, code: CniCode.DecodeFailure, msg: 'cannot decode the request', details: (err as Error).message });
    }
    void handle(req).then(replyJson);
  });
  // A raw request is whole once the relay half-closes; any other connection ending early gets no answer.
  conn.on('end', () => {
    if (taken) return;
    taken = true;
    if (raw) void answerRawFrame(Buffer.concat(chunks), handle).then(reply);
    else reply('');
  });
}
