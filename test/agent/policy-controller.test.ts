// The policy controller feeds a policy when its spec or labels change, not when only its status does
// (generation unchanged), so the policy revision moves only when a policy does.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { policyReconciler } from '../../agent/policy-controller.ts';
import type { PolicyFeed } from '../../agent/policy-feed.ts';
import { ValidPolicies } from '../../agent/valid-policies.ts';
import { nopLogger } from '../../runtime/logger.ts';

const cnp = (generation: number | undefined, labels: Record<string, string> = {}, status?: unknown): KubernetesObject & Record<string, unknown> => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy',
  metadata: { name: 'p', namespace: 'default', uid: 'u1', labels, ...(generation === undefined ? {} : { generation }) },
  spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }] },
  ...(status ? { status } : {}),
});

describe('agent: policy controller', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ciliate-policy-ctl-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('feeds spec and label changes and deletes, and skips status-only updates', async () => {
    let obj: KubernetesObject | undefined;
    const fed: string[] = [];
    const feed = {
      upsertPolicy: (p: { name: string }) => void fed.push(`upsert ${p.name}`),
      deletePolicy: (_k: string, _ns: string | undefined, name: string) => void fed.push(`delete ${name}`),
    } as unknown as PolicyFeed;
    const cache = { get: () => obj, list: () => (obj ? [obj] : []), keys: () => (obj ? ['default/p'] : []), hasSynced: () => true, waitForSync: async () => true };
    const r = policyReconciler('CiliumNetworkPolicy', cache, feed, new ValidPolicies(dir, 'default', nopLogger));
    const reconcile = () => r.reconcile({ signal: new AbortController().signal, log: nopLogger, reconcileId: '1' }, { namespace: 'default', name: 'p' });
    for (const next of [cnp(1), cnp(1, {}, { conditions: [{ type: 'Valid' }] }), cnp(2), cnp(2, { team: 'a' }), cnp(undefined), cnp(undefined)]) {
      obj = next;
      await reconcile();
    }
    obj = undefined;
    await reconcile();
    obj = cnp(2, { team: 'a' });
    await reconcile();
    // Generation 1, its status write skipped; generation 2; new labels; twice without a generation; the delete; re-created.
    expect(fed).to.deep.equal(['upsert p', 'upsert p', 'upsert p', 'upsert p', 'upsert p', 'delete p', 'upsert p']);
  });
});
