// Identity and endpoint garbage collection, and policy status, against a real kube-apiserver.
import { expect } from 'chai';
import type { CiliumIdentity, CiliumNetworkPolicy } from '../../crds/types.generated.ts';
import { HEARTBEAT_ANNOTATION } from '../../reconcilers/identity-gc.ts';
import type { KubeRequester } from '../../runtime/kube.ts';
import { kubectl } from '../support/cluster.ts';
import { applyObjects, eventually, httpGet, installCrds, ok, startOperator, testRequester, type RunningOperator } from './support.ts';

const ID_PATH = '/apis/cilium.io/v2/ciliumidentities';

async function identity(request: KubeRequester, id: string): Promise<CiliumIdentity | undefined> {
  try {
    return (await request({ method: 'GET', path: `${ID_PATH}/${id}` })) as CiliumIdentity;
  } catch {
    return undefined;
  }
}

const identityObject = (id: string) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumIdentity',
  metadata: { name: id },
  'security-labels': { 'k8s:app': `gc-${id}`, 'k8s:io.kubernetes.pod.namespace': 'gc' },
});

const podObject = (ns: string, name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: 'c', image: 'registry.invalid/none:1' }] },
});

const endpointObject = (ns: string, name: string, id: number) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumEndpoint',
  metadata: { name, namespace: ns },
  status: { id: 1, identity: { id, labels: [`k8s:app=gc-${id}`] }, state: 'ready' },
});

describe('operator garbage collection and policy status on a real kube-apiserver', function () {
  this.timeout(120_000);
  let request: KubeRequester;
  let op: RunningOperator;
  const ns = `gc-${Date.now().toString(36)}`;

  before(async () => {
    await installCrds();
    request = await testRequester();
    await ok(['create', 'namespace', ns]);
    await eventually('default service account', async () => (await ok(['get', 'sa', '-n', ns, '-o', 'name'])).includes('default'));
    op = await startOperator({
      'cluster-pool-ipv4-cidr': '10.230.0.0/16',
      'identity-gc-interval': '500ms',
      'identity-heartbeat-timeout': '2s',
      'endpoint-gc-interval': '500ms',
    });
  });
  after(async () => {
    await op.stop();
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
    await kubectl(['delete', 'ciliumidentities', '70001', '70002', '70003', '--ignore-not-found']);
  });

  it('marks an unused identity with the heartbeat annotation, then deletes it; a used one stays', async () => {
    await applyObjects([identityObject('70001'), identityObject('70002'), podObject(ns, 'live'), endpointObject(ns, 'live', 70001)]);
    const marked = await eventually('70002 marked', async () => (await identity(request, '70002'))?.metadata?.annotations?.[HEARTBEAT_ANNOTATION]);
    expect(Date.parse(marked)).to.be.closeTo(Date.now(), 10_000);
    await eventually('70002 deleted', async () => (await identity(request, '70002')) === undefined);
    const used = await identity(request, '70001');
    expect(used, 'identity in use').to.not.equal(undefined);
    expect(used!.metadata?.annotations?.[HEARTBEAT_ANNOTATION]).to.equal(undefined);
    const metrics = await httpGet(await op.operator.metricsPort!, '/metrics');
    expect(metrics.body).to.match(/cilium_operator_identity_gc_runs\{outcome="success"\} [1-9]/);
  });

  it('removes the mark from an identity that is used again before the timeout', async () => {
    await applyObjects([identityObject('70003'), podObject(ns, 'reuser')]);
    await eventually('70003 marked', async () => (await identity(request, '70003'))?.metadata?.annotations?.[HEARTBEAT_ANNOTATION]);
    await applyObjects([endpointObject(ns, 'reuser', 70003)]);
    await eventually('70003 mark removed', async () => {
      const id = await identity(request, '70003');
      return id && !id.metadata?.annotations?.[HEARTBEAT_ANNOTATION];
    });
    await new Promise((r) => setTimeout(r, 3000));
    expect(await identity(request, '70003'), 'reused identity survives the timeout').to.not.equal(undefined);
  });

  it('deletes CiliumEndpoints whose pod is gone and keeps the others', async () => {
    await applyObjects([endpointObject(ns, 'ghost', 70001)]);
    const path = `/apis/cilium.io/v2/namespaces/${ns}/ciliumendpoints`;
    await eventually('ghost endpoint deleted', async () => {
      const names = ((await request({ method: 'GET', path })) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name);
      return !names.includes('ghost') && names.includes('live') ? true : undefined;
    });
    const metrics = await httpGet(await op.operator.metricsPort!, '/metrics');
    expect(metrics.body).to.match(/cilium_operator_endpoint_gc_objects\{outcome="success"\} [1-9]/);
  });

  it('sets Valid=True on valid policies and Valid=False with the message on invalid ones', async () => {
    await applyObjects([
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'good', namespace: ns }, spec: { endpointSelector: {} } },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'bad', namespace: ns }, specs: [] },
      {
        apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'bad-combo', namespace: ns },
        specs: [{ endpointSelector: {}, ingress: [{ fromEndpoints: [{}], fromCIDR: ['10.0.0.0/8'] }] }],
      },
      { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: `${ns}-good` }, spec: { nodeSelector: {} } },
    ]);
    const valid = async (path: string) => {
      const p = (await request({ method: 'GET', path })) as CiliumNetworkPolicy;
      return p.status?.conditions?.find((c) => c.type === 'Valid');
    };
    const cnp = `/apis/cilium.io/v2/namespaces/${ns}/ciliumnetworkpolicies`;
    const good = await eventually('good Valid', () => valid(`${cnp}/good`));
    const bad = await eventually('bad Valid', () => valid(`${cnp}/bad`));
    const combo = await eventually('bad-combo Valid', () => valid(`${cnp}/bad-combo`));
    const ccnp = await eventually('ccnp Valid', () => valid(`/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies/${ns}-good`));
    await kubectl(['delete', 'ccnp', `${ns}-good`]);
    expect(good.status).to.equal('True');
    expect(ccnp.status).to.equal('True');
    expect(bad.status).to.equal('False');
    expect(bad.message).to.contain('empty policy');
    expect(combo.status).to.equal('False');
    expect(combo.message).to.contain('specs[0].ingress[0]: combining fromEndpoints and fromCIDR is not supported');
    expect((await ok(['get', 'cnp', '-n', ns])).replace(/\s+/g, ' ')).to.match(/bad \S+ False/);
  });
});
