// The chart's Hubble Relay objects rendered by the real helm (`helm template`, no cluster): the
// hubble-relay Deployment, Service and ConfigMap and the hubble-peer Service with upstream's names,
// ports and settings, and values the schema refuses, named.
import { expect } from 'chai';
import { join } from 'node:path';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { findObject as find, renderChart } from '../support/chart-render.ts';

describe('Helm chart: the Hubble Relay', function () {
  this.timeout(60_000);
  let helm: string;
  const template = (...set: string[]) => renderChart(helm, ...set);

  before(async function () {
    const dir = await builtToolchain('cluster');
    if (!dir) this.skip();
    helm = join(dir!, 'helm');
  });

  it('renders no relay by default, as upstream; the hubble-peer Service always (port 80 to 4244 without TLS)', async function () {
    const r = await template();
    expect(r.code, r.stderr).to.equal(0);
    expect(find(r.objects, 'Deployment', 'hubble-relay')).to.equal(undefined);
    const peer = find(r.objects, 'Service', 'hubble-peer')!;
    expect(peer.spec).to.deep.include({ selector: { 'k8s-app': 'cilium' }, internalTrafficPolicy: 'Local' });
    expect(peer.spec!.ports).to.deep.equal([{ name: 'peer-service', port: 80, protocol: 'TCP', targetPort: 4244 }]);
  });

  it('hubble.relay.enabled: the Deployment runs `hubble-relay serve` on 4245 with its ConfigMap; the Service maps 80 to it', async function () {
    const r = await template('hubble.relay.enabled=true', 'hubble.relay.replicas=2', 'hubble.relay.sortBufferLenMax=50', 'hubble.peerService.servicePort=443');
    expect(r.code, r.stderr).to.equal(0);
    const deploy = find(r.objects, 'Deployment', 'hubble-relay')!;
    const pod = (deploy.spec!.template as { spec: { containers: Record<string, unknown>[]; volumes: { configMap?: { name: string } }[] } }).spec;
    expect(deploy.spec!.replicas).to.equal(2);
    expect(pod.containers[0]).to.deep.include({ command: ['hubble-relay'], args: ['serve'], ports: [{ name: 'grpc', containerPort: 4245 }] });
    expect(pod.volumes.map((v) => v.configMap?.name)).to.include('hubble-relay-config');
    const svc = find(r.objects, 'Service', 'hubble-relay')!;
    expect(svc.spec!.ports).to.deep.equal([{ protocol: 'TCP', port: 80, targetPort: 'grpc' }]);
    const config = find(r.objects, 'ConfigMap', 'hubble-relay-config')!.data!['config.yaml']!;
    expect(config).to.include('peer-service: "hubble-peer.kube-system.svc.cluster.local.:443"').and.include('listen-address: ":4245"')
      .and.include('sort-buffer-len-max: 50').and.include('disable-client-tls: true');
    expect(find(r.objects, 'Service', 'hubble-peer')!.spec!.ports).to.deep.include({ name: 'peer-service', port: 443, protocol: 'TCP', targetPort: 4244 });
  });

  it('refuses relay values it cannot honour, naming them', async function () {
    for (const [set, path] of [['hubble.relay.retryTimeout=soon', '/hubble/relay/retryTimeout'], ['hubble.tls.enabled=true', '/hubble/tls/enabled'],
      ['hubble.relay.service.type=Ingress', '/hubble/relay/service/type']] as const) {
      const r = await template('hubble.relay.enabled=true', set);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include(path);
    }
  });
});
