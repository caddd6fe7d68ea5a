// The last valid version of each policy, persisted in the state folder: an invalid update (or an
// agent restart that meets one) falls back to it, only for the same object.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidPolicies } from '../../agent/valid-policies.ts';
import { nopLogger } from '../../runtime/logger.ts';

const cnp = (from: string, uid = 'u1', extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'p', namespace: 'default', uid },
  spec: { endpointSelector: { matchLabels: { app: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: from } }], ...extra }] },
});
const invalid = cnp('client', 'u1', { fromCIDR: ['10.0.0.0/8'] });

describe('agent: last valid policies', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ciliate-valid-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves an invalid update to the last valid version, also in a new agent', () => {
    const first = new ValidPolicies(dir, 'default', nopLogger);
    expect(first.resolve('CiliumNetworkPolicy', cnp('client'))?.errors).to.deep.equal([]);
    const restarted = new ValidPolicies(dir, 'default', nopLogger);
    const parsed = restarted.resolve('CiliumNetworkPolicy', invalid);
    expect(parsed?.errors).to.deep.equal([]);
    expect(JSON.stringify(parsed?.rules)).to.contain('client');
    expect(JSON.stringify(parsed?.rules)).to.not.contain('10.0.0.0/8');
  });

  it('does not fall back across objects (another uid) nor after a delete', () => {
    const v = new ValidPolicies(dir, 'default', nopLogger);
    v.resolve('CiliumNetworkPolicy', cnp('client'));
    expect(v.resolve('CiliumNetworkPolicy', { ...invalid, metadata: { ...invalid.metadata, uid: 'u2' } })).to.equal(undefined);
    v.forget('CiliumNetworkPolicy', 'default', 'p');
    expect(v.resolve('CiliumNetworkPolicy', invalid)).to.equal(undefined);
  });
});
