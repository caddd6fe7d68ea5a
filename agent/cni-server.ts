/**
 * The agent's CNI endpoint: a unix socket only root can open (folder 0700, socket 0600) where the
 * `ciliate-cni` plugin sends one JSON request line per connection and reads one JSON answer.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { AgentRequest, AgentResponse } from '../cni/protocol.ts';
import { CniCode } from '../cni/spec.ts';

/** Handles one decoded request. */
export type RequestHandler = (req: AgentRequest) => Promise<AgentResponse>;

/** Largest request accepted, in bytes. */
const MAX_REQUEST = 1 << 20;

/** Listens on `socket` and answers with `handle`; resolves once listening. */
export function serveCni(socket: string, handle: RequestHandler): Promise<Server> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  chmodSync(dirname(socket), 0o700);
  rmSync(socket, { force: true });
  const server = createServer((conn) => {
    let buf = '';
    let answered = false;
    const answer = (res: AgentResponse) => {
      if (answered) return;
      answered = true;
      conn.end(JSON.stringify(res) + '\n');
    };
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return answer({ ok: false, code: CniCode.DecodeFailure, msg: 'request too large' });
      const nl = buf.indexOf('\n');
      if (nl < 0 || answered) return;
      let req: AgentRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as AgentRequest;
      } catch (err) {
        return answer({ ok: false, code: CniCode.DecodeFailure, msg: 'cannot decode the request', details: (err as Error).message });
      }
      void handle(req).then(answer);
    });
  });
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
