// The CiliumIdentity adapter: the requests it sends and the status codes it maps (with a fake requester).
import { expect } from 'chai';
import { toCiliumIdentity } from '../../identity/ciliumidentity.ts';
import { K8sIdentityBackend } from '../../identity/k8s-identity-backend.ts';
import { LabelSet } from '../../identity/labels.ts';
import { KubeApiError } from '../../runtime/api-errors.ts';
import type { KubeRequest, KubeRequester } from '../../runtime/kube-request.ts';

const PATH = '/apis/cilium.io/v2/ciliumidentities';

function fakeRequester(answer: (req: KubeRequest) => unknown): { request: KubeRequester; calls: KubeRequest[] } {
  const calls: KubeRequest[] = [];
  const request: KubeRequester = async (req) => {
    calls.push(req);
    return answer(req);
  };
  return { request, calls };
}

const status = (code: number) => () => {
  throw new KubeApiError(code, `HTTP ${code}`, undefined);
};

describe('K8sIdentityBackend', () => {
  const obj = toCiliumIdentity(300, LabelSet.parse(['k8s:app=web']));

  it('creates with a POST to the collection and maps 409 to exists', async () => {
    const { request, calls } = fakeRequester(status(409));
    expect(await new K8sIdentityBackend(request).create(obj)).to.deep.equal({ status: 'exists' });
    expect(calls[0]).to.deep.equal({ method: 'POST', path: PATH, body: obj });
  });
  it('maps 404 on get to undefined and rethrows other errors', async () => {
    const { request, calls } = fakeRequester((req) => status(req.path.endsWith('/x') ? 404 : 500)());
    const b = new K8sIdentityBackend(request);
    expect(await b.get('x')).to.equal(undefined);
    expect(calls[0]).to.deep.equal({ method: 'GET', path: `${PATH}/x` });
    let err: unknown;
    try { await b.get('y'); } catch (e) { err = e; }
    expect((err as KubeApiError).code).to.equal(500);
  });
  it('lists items and replaces with a PUT, mapping conflicts', async () => {
    const { request, calls } = fakeRequester((req) => (req.method === 'GET' ? { items: [obj] } : status(409)()));
    const b = new K8sIdentityBackend(request);
    expect(await b.list()).to.deep.equal([obj]);
    expect(await b.replace(obj)).to.deep.equal({ status: 'conflict' });
    expect(calls[1]).to.deep.equal({ method: 'PUT', path: `${PATH}/${obj.metadata.name}`, body: obj });
  });
  it('deletes with a resourceVersion precondition', async () => {
    const { request, calls } = fakeRequester(() => ({}));
    expect(await new K8sIdentityBackend(request).delete('300', '7')).to.equal('deleted');
    expect(calls[0]).to.deep.equal({ method: 'DELETE', path: `${PATH}/300`, body: { preconditions: { resourceVersion: '7' } } });
  });
});
