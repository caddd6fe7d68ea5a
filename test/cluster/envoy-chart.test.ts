// The chart's cilium-envoy DaemonSet rendered by the real helm (`helm template`, no cluster): on by
// default (envoy.enabled, upstream's default for new installs), the agent image's HTTP proxy in a
// host-network pod with the shared socket folder and the BPF filesystem, few capabilities and no
// API token, and `external-envoy-proxy` in cilium-config as the agent reads it; off: neither. Container
// resources (`envoy.resources`, `resources`) only when set.
import { expect } from 'chai';
import { join } from 'node:path';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { loadAgentConfig } from '../../agent/config/parse.ts';
import { findObject, renderChart, type K8sObject } from '../support/chart-render.ts';

interface PodSpec {
  hostNetwork: boolean; automountServiceAccountToken: boolean;
  containers: { image: string; command: string[]; args: string[]; securityContext: { privileged: boolean; capabilities?: { add: string[]; drop: string[] } }; volumeMounts: { name: string; mountPath: string }[] }[];
  volumes: { name: string; hostPath?: { path: string } }[];
}

describe('Helm chart: the cilium-envoy DaemonSet', function () {
  this.timeout(60_000);
  let helm: string;
  const podOf = (o: K8sObject) => (o.spec!.template as { spec: PodSpec }).spec;
  /** What the agent makes of the rendered cilium-config. */
  const agentConfig = (objects: K8sObject[]) =>
    loadAgentConfig({ flags: { 'config-dir': '/cfg' }, env: {}, readDir: () => findObject(objects, 'ConfigMap', 'cilium-config')!.data!, hostname: 'n1' }).config;
  const externalProxy = (objects: K8sObject[]) => agentConfig(objects).externalEnvoyProxy;

  before(async function () {
    const dir = await builtToolchain('cluster');
    if (!dir) this.skip();
    helm = join(dir!, 'helm');
  });

  it('runs the HTTP proxy from the agent image on every node by default, and tells the agent so', async () => {
    const r = await renderChart(helm, 'daemon.runPath=/run/x', 'bpf.root=/sys/fs/bpf/y');
    expect(r.code, r.stderr).to.equal(0);
    const ds = findObject(r.objects, 'DaemonSet', 'cilium-envoy')!;
    expect(ds.metadata.labels).to.include({ 'k8s-app': 'cilium-envoy', 'app.kubernetes.io/name': 'cilium-envoy' });
    const pod = podOf(ds);
    const agentPod = podOf(findObject(r.objects, 'DaemonSet', 'cilium')!);
    expect(pod).to.include({ hostNetwork: true, automountServiceAccountToken: false });
    const [c] = pod.containers;
    expect(c!.image).to.equal(agentPod.containers[0]!.image);
    expect([...c!.command, ...c!.args]).to.deep.equal(['/usr/bin/node', '/opt/ciliate/http-proxy.mjs',
      '--socket-path=/var/run/cilium/envoy/sockets/http-proxy.sock', '--pin-root=/sys/fs/bpf/y/ciliate/$(K8S_NODE_NAME)']);
    expect(c!.securityContext).to.deep.include({ privileged: false, capabilities: { add: ['NET_ADMIN', 'SYS_ADMIN'], drop: ['ALL'] } });
    // The socket folder is the agent's state dir's (the same host path), and the BPF filesystem the agent pins in.
    const hostPathOf = (p: PodSpec, mountPath: string) => p.volumes.find((v) => v.name === p.containers[0]!.volumeMounts.find((m) => m.mountPath === mountPath)!.name)!.hostPath!.path;
    expect(hostPathOf(pod, '/var/run/cilium/envoy/sockets')).to.equal('/run/x/envoy/sockets');
    expect(hostPathOf(agentPod, '/var/run/cilium')).to.equal('/run/x');
    expect(hostPathOf(pod, '/sys/fs/bpf/y')).to.equal('/sys/fs/bpf/y');
    expect(externalProxy(r.objects)).to.equal(true);
  });

  it('envoy.resources and resources: none by default (as upstream), else on the proxy\'s and the agent\'s containers; unknown keys refused', async () => {
    const resourcesOf = (objects: K8sObject[], name: string) => (podOf(findObject(objects, 'DaemonSet', name)!).containers[0] as { resources?: unknown }).resources;
    const plain = await renderChart(helm);
    expect(resourcesOf(plain.objects, 'cilium-envoy')).to.equal(undefined);
    expect(resourcesOf(plain.objects, 'cilium')).to.equal(undefined);
    const set = await renderChart(helm, 'envoy.resources.requests.cpu=100m', 'resources.requests.cpu=50m', 'resources.limits.memory=1Gi');
    expect(set.code, set.stderr).to.equal(0);
    expect(resourcesOf(set.objects, 'cilium-envoy')).to.deep.equal({ requests: { cpu: '100m' } });
    expect(resourcesOf(set.objects, 'cilium')).to.deep.equal({ requests: { cpu: '50m' }, limits: { memory: '1Gi' } });
    const bad = await renderChart(helm, 'envoy.resources.cpu=1');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/envoy\/resources.*cpu/);
  });

  it('envoy.enabled=false: no DaemonSet, and the agent starts the proxy itself', async () => {
    const r = await renderChart(helm, 'envoy.enabled=false');
    expect(r.code, r.stderr).to.equal(0);
    expect(findObject(r.objects, 'DaemonSet', 'cilium-envoy')).to.equal(undefined);
    expect(externalProxy(r.objects)).to.equal(false);
  });

  it('envoy.httpUpstreamLingerTimeout: rendered only when set (0 included), into cilium-config and the proxy\'s flag', async () => {
    const unset = await renderChart(helm);
    expect(findObject(unset.objects, 'ConfigMap', 'cilium-config')!.data).to.not.have.property('envoy-http-upstream-linger-timeout');
    expect(agentConfig(unset.objects).httpUpstreamLingerSeconds).to.equal(-1);
    const zero = await renderChart(helm, 'envoy.httpUpstreamLingerTimeout=0');
    expect(zero.code, zero.stderr).to.equal(0);
    expect(findObject(zero.objects, 'ConfigMap', 'cilium-config')!.data!['envoy-http-upstream-linger-timeout']).to.equal('0');
    expect(agentConfig(zero.objects).httpUpstreamLingerSeconds).to.equal(0);
    expect(podOf(findObject(zero.objects, 'DaemonSet', 'cilium-envoy')!).containers[0]!.args).to.include('--http-upstream-linger-timeout=0');
    const bad = await renderChart(helm, 'envoy.httpUpstreamLingerTimeout=-2');
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.include('/envoy/httpUpstreamLingerTimeout');
  });

  it('refuses a non-boolean envoy.enabled, naming it', async () => {
    const r = await renderChart(helm, 'envoy.enabled=maybe');
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('/envoy/enabled');
  });
});
