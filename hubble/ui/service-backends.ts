/**
 * The cluster's Services by address, for flows that do not name their Service: each Service's
 * frontends (ClusterIP:port) and backends (EndpointSlice address:port), listed from the API server
 * every few seconds. A flow to a backend address and port is shown as going to that Service.
 */
import type { KubeRequester } from '../../runtime/kube-request.ts';

interface ServiceList {
  items?: { metadata?: { namespace?: string; name?: string }; spec?: { clusterIPs?: string[]; ports?: { port?: number }[] } }[];
}
interface SliceList {
  items?: {
    metadata?: { namespace?: string; labels?: Record<string, string> };
    ports?: { port?: number }[] | null;
    endpoints?: { addresses?: string[] }[];
  }[];
}

/** `ip:port` → `ns/service` from a Service and EndpointSlice list (exported for tests). */
export function indexServices(services: ServiceList, slices: SliceList): Map<string, string> {
  const byAddress = new Map<string, string>();
  for (const s of slices.items ?? []) {
    const name = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!name) continue;
    for (const e of s.endpoints ?? []) {
      for (const ip of e.addresses ?? []) for (const p of s.ports ?? []) if (p.port) byAddress.set(`${ip}:${p.port}`, `${s.metadata?.namespace}/${name}`);
    }
  }
  for (const s of services.items ?? []) {
    const id = `${s.metadata?.namespace}/${s.metadata?.name}`;
    for (const ip of s.spec?.clusterIPs ?? []) for (const p of s.spec?.ports ?? []) if (ip !== 'None' && p.port) byAddress.set(`${ip}:${p.port}`, id);
  }
  return byAddress;
}

/** Services by address, refreshed from the API server until {@link stop}. */
export class ServiceBackends {
  private byAddress = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  /** `onError` hears failed refreshes (the last good index stays in use). */
  constructor(private readonly request: KubeRequester, private readonly intervalMs = 5000, private readonly onError: (err: Error) => void = () => {}) {}

  /** Lists once, then keeps refreshing. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops refreshing. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** The `ns/name` of the Service at or behind `ip:port`, if any. */
  lookup(ip: string, port: number | undefined): string | undefined {
    return port ? this.byAddress.get(`${ip}:${port}`) : undefined;
  }

  private async refresh(): Promise<void> {
    try {
      const [services, slices] = await Promise.all([
        this.request({ method: 'GET', path: '/api/v1/services' }) as Promise<ServiceList>,
        this.request({ method: 'GET', path: '/apis/discovery.k8s.io/v1/endpointslices' }) as Promise<SliceList>,
      ]);
      this.byAddress = indexServices(services, slices);
    } catch (err) {
      this.onError(err as Error);
    }
  }
}
