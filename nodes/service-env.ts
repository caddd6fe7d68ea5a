/**
 * The Service environment variables kubelet gives a container: for every Service of the pod's
 * namespace with a ClusterIP, as of the pod's start, `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`
 * (the first port), `<NAME>_SERVICE_PORT_<PORTNAME>` per named port, and the Docker-link style
 * `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`. NAME is upper-cased with dashes
 * as underscores.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { KubeRequester } from '../runtime/kube-request.ts';

const envName = (s: string): string => s.toUpperCase().replace(/-/g, '_');

/** The variables for these Services (headless ones and those without ports give none). */
export function serviceEnv(services: V1Service[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    const ports = svc.spec?.ports ?? [];
    if (!ip || ip === 'None' || ports.length === 0 || !svc.metadata?.name) continue;
    const name = envName(svc.metadata.name);
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(ports[0]!.port);
    for (const p of ports) if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    const first = ports[0]!;
    env[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}`;
    for (const p of ports) {
      const proto = p.protocol ?? 'TCP';
      const prefix = `${name}_PORT_${p.port}_${proto}`;
      env[prefix] = `${proto.toLowerCase()}://${ip}:${p.port}`;
      env[`${prefix}_PROTO`] = proto.toLowerCase();
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    }
  }
  return env;
}

/** The Service variables for a pod of `namespace`, from the Services that exist now ({} when they cannot be read). */
export async function serviceEnvFor(request: KubeRequester, namespace: string): Promise<Record<string, string>> {
  try {
    const list = (await request({ method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/services` })) as { items?: V1Service[] };
    return serviceEnv(list.items ?? []);
  } catch {
    return {};
  }
}
