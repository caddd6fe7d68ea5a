// The CustomObjectsApi adapter: request parameters and status-code mapping (with a fake client).
import { expect } from 'chai';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { toCiliumIdentity } from '../../identity/ciliumidentity.ts';
import { K8sIdentityBackend } from '../../identity/k8s-identity-backend.ts';
import { LabelSet } from '../../identity/labels.ts';

class StatusError extends Error {
  constructor(readonly code: number) {
    super(`HTTP ${code}`);
  }
}

function fakeApi(behaviour: Record<string, (p: Record<string, unknown>) => unknown>) {
  const calls: [string, Record<string, unknown>][] = [];
  const handler = (name: string) => async (p: Record<string, unknown>) => {
    calls.push([name, p]);
    return behaviour[name]!(p);
  };
  const api = {
    createClusterCustomObject: handler('create'), getClusterCustomObject: handler('get'), listClusterCustomObject: handler('list'),
    replaceClusterCustomObject: handler('replace'), deleteClusterCustomObject: handler('delete'),
  } as unknown as CustomObjectsApi;
  return { api, calls };
}

describe('K8sIdentityBackend', () => {
  const obj = toCiliumIdentity(300, LabelSet.parse(['k8s:app=web']));
  const resource = { group: 'cilium.io', version: 'v2', plural: 'ciliumidentities' };

  it('maps 409 on create to exists and passes the resource', async () => {
    const { api, calls } = fakeApi({ create: () => { throw new StatusError(409); } });
    expect(await new K8sIdentityBackend(api).create(obj)).to.deep.equal({ status: 'exists' });
    expect(calls[0]).to.deep.equal(['create', { ...resource, body: obj }]);
  });
  it('maps 404 on get to undefined and rethrows other errors', async () => {
    const { api } = fakeApi({ get: (p) => { throw new StatusError(p.name === 'x' ? 404 : 500); } });
    const b = new K8sIdentityBackend(api);
    expect(await b.get('x')).to.equal(undefined);
    let err: unknown;
    try { await b.get('y'); } catch (e) { err = e; }
    expect((err as StatusError).code).to.equal(500);
  });
  it('lists items and replaces with conflict mapping', async () => {
    const { api } = fakeApi({ list: () => ({ items: [obj] }), replace: () => { throw new StatusError(409); } });
    const b = new K8sIdentityBackend(api);
    expect(await b.list()).to.deep.equal([obj]);
    expect(await b.replace(obj)).to.deep.equal({ status: 'conflict' });
  });
  it('deletes with a resourceVersion precondition', async () => {
    const { api, calls } = fakeApi({ delete: () => ({}) });
    expect(await new K8sIdentityBackend(api).delete('300', '7')).to.equal('deleted');
    expect(calls[0]).to.deep.equal(['delete', { ...resource, name: '300', body: { preconditions: { resourceVersion: '7' } } }]);
  });
});
