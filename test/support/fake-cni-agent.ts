/** A fake node agent for the CNI tests: the real CNI socket server (serveCni) with a scripted answer. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveCni } from '../../agent/cni-server.ts';
import type { AgentRequest, AgentResponse } from '../../cni/protocol.ts';

/** The agent's state, read and set by the tests. */
export interface FakeCniAgent {
  /** A fresh folder; the socket is `<dir>/run/agent.sock`. */
  dir: string;
  socket: string;
  /** The requests the handler saw since the last test began. */
  seen: AgentRequest[];
  /** How the handler answers; `{ ok: true }` at the start of every test. */
  answer: (req: AgentRequest) => AgentResponse;
}

/** Registers mocha hooks that run a fake agent around the current suite, and returns its state. */
export function fakeCniAgent(): FakeCniAgent {
  const agent: FakeCniAgent = { dir: '', socket: '', seen: [], answer: () => ({ ok: true }) };
  let server: Server | undefined;
  before(async () => {
    agent.dir = mkdtempSync(join(tmpdir(), 'cni-'));
    agent.socket = join(agent.dir, 'run', 'agent.sock');
    server = await serveCni(agent.socket, async (req) => {
      agent.seen.push(req);
      return agent.answer(req);
    });
  });
  after(() => {
    server?.close();
    rmSync(agent.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    agent.seen.length = 0;
    agent.answer = () => ({ ok: true });
  });
  return agent;
}
