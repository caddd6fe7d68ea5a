// Read-your-writes for policy: a wait for a revision resolves once the engine reached it and the
// kernel side settled, through the agent's local API socket as `ciliate policy wait` asks it.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askAgent, policyRevisionOf, policyRoutes, waitForPolicyRevision } from '../../agent/policy-api.ts';
import { PolicyRevisions, type PolicyWaitResult } from '../../agent/policy-revisions.ts';
import { HttpEndpoint } from '../../runtime/http-endpoint.ts';
import { nopLogger } from '../../runtime/logger.ts';

describe('agent: policy revisions', () => {
  let revision: number;
  let revisions: PolicyRevisions;
  beforeEach(() => {
    revision = 3;
    revisions = new PolicyRevisions({
      revision: () => revision,
      settled: async (): Promise<PolicyWaitResult> => ({ revision, endpoints: 2, failed: [] }),
    });
  });

  it('answers a reached revision once the kernel settled, and a later one once the engine reaches it', async () => {
    expect(await revisions.wait(2, new AbortController().signal)).to.deep.equal({ revision: 3, endpoints: 2, failed: [] });
    let done: PolicyWaitResult | undefined;
    const later = revisions.wait(5, new AbortController().signal).then((r) => (done = r));
    revision = 4;
    revisions.changed();
    await new Promise((r) => setImmediate(r));
    expect(done).to.equal(undefined);
    revision = 5;
    revisions.changed();
    expect(await later).to.deep.equal({ revision: 5, endpoints: 2, failed: [] });
  });

  it('gives up when its signal aborts', async () => {
    const ac = new AbortController();
    const waited = revisions.wait(9, ac.signal);
    ac.abort();
    expect(await waited).to.equal(undefined);
  });

  describe('over the local API socket', () => {
    let dir: string;
    let stop: AbortController;
    let running: Promise<void>;
    let socket: string;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ciliate-api-'));
      socket = join(dir, 'api.sock');
      stop = new AbortController();
      const endpoint = new HttpEndpoint('API', { path: socket }, policyRoutes(revisions), nopLogger);
      running = endpoint.start(stop.signal);
      await endpoint.bound;
    });
    afterEach(async () => {
      stop.abort();
      await running;
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves the revision and waits for one, refusing bad parameters by name and timing out with 504', async () => {
      expect(await policyRevisionOf(socket)).to.equal(3);
      const waited = waitForPolicyRevision(socket, 4);
      revision = 4;
      revisions.changed();
      expect(await waited).to.deep.equal({ revision: 4, endpoints: 2, failed: [] });
      expect(await askAgent(socket, '/v1/policy/wait?revision=x')).to.deep.equal({
        status: 400, body: { error: 'query parameter "revision" must be a non-negative integer, not "x"' },
      });
      expect(await askAgent(socket, '/v1/policy/wait')).to.deep.equal({ status: 400, body: { error: 'missing query parameter "revision"' } });
      expect(await askAgent(socket, '/v1/policy/wait?revision=99&timeout=0')).to.deep.equal({
        status: 504, body: { error: 'revision 99 not in the kernel after 0 s', revision: 4 },
      });
    });
  });
});
