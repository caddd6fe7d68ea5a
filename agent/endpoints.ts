/**
 * The agent's endpoint manager: serves the CNI operations the plugin forwards. ADD allocates an
 * address, plumbs the veth pair, records the endpoint and waits for the `beforeAddReturns` hook;
 * DEL undoes whatever exists and succeeds when nothing does; CHECK compares the recorded endpoint
 * with the kernel; STATUS says whether ADD can be served. Operations on one container run one at a
 * time, in arrival order; different containers' operations run concurrently.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentRequest, AgentResponse } from '../cni/protocol.ts';
import { CniCode, CniError, type CniResult } from '../cni/spec.ts';
import type { Logger } from '../runtime/logger.ts';
import { elapsedMs } from '../runtime/elapsed.ts';
import { endpointHooks, type Endpoint } from './hooks.ts';
import { HostLocalIpam, IpamExhaustedError } from './ipam.ts';
import { hostIfName, plumb, POD_GATEWAY, unplumb, verifyPlumbing } from './veth.ts';

/** Default MTU when the configuration gives none. */
export const DEFAULT_MTU = 1500;

/** Serves CNI requests for one node. */
export class EndpointManager {
  private readonly ipam: HostLocalIpam;
  private readonly dir: string;
  /** The tail of each container's queue of operations. */
  private readonly chains = new Map<string, Promise<unknown>>();

  /**
   * @param stateDir where IPAM allocations and endpoint records persist
   * @param podCIDRs the node's current pod CIDRs (empty while unknown)
   */
  constructor(stateDir: string, private readonly podCIDRs: () => string[], private readonly log: Logger) {
    this.dir = join(stateDir, 'endpoints');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.ipam = new HostLocalIpam(join(stateDir, 'ipam.json'));
  }

  /** Every recorded endpoint. */
  endpoints(): Endpoint[] {
    return readdirSync(this.dir).filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as Endpoint);
  }

  /** Handles one request, after the earlier ones for the same container, and never throws. */
  handle(req: AgentRequest): Promise<AgentResponse> {
    const key = `${req.containerId}/${req.ifName}`;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(() => this.dispatch(req));
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return run.then(
      (result) => ({ ok: true as const, ...(result ? { result } : {}) }),
      (err: unknown) => {
        const e = err instanceof CniError ? err : new CniError(CniCode.AgentFailure, (err as Error).message);
        this.log.warn('CNI request failed', { command: req.command, containerId: req.containerId, code: e.code, msg: e.message });
        return { ok: false as const, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) };
      },
    );
  }

  private async dispatch(req: AgentRequest): Promise<CniResult | undefined> {
    switch (req.command) {
      case 'STATUS':
        return this.status();
      case 'ADD':
        return this.add(req);
      case 'DEL':
        return this.del(req);
      case 'CHECK':
        return this.check(req);
    }
  }

  private status(): undefined {
    const cidrs = this.podCIDRs();
    if (cidrs.length === 0) throw new CniError(CniCode.PluginNotAvailable, 'the agent does not know its pod CIDR yet');
    if (this.ipam.free(cidrs) <= 0) throw new CniError(CniCode.PluginNotAvailable, `no free pod address in ${cidrs.join(', ')}`);
    return undefined;
  }

  private async add(req: AgentRequest): Promise<CniResult> {
    const key = `${req.containerId}/${req.ifName}`;
    if (this.record(key)) await this.del(req);
    const cidrs = this.podCIDRs();
    if (cidrs.length === 0) throw new CniError(CniCode.TryAgainLater, 'the agent does not know its pod CIDR yet');
    if (!existsSync(req.netns)) throw new CniError(CniCode.InvalidEnvironment, `network namespace ${req.netns} does not exist`);
    let ip: string;
    try {
      ip = this.ipam.allocate(key, cidrs);
    } catch (err) {
      if (err instanceof IpamExhaustedError) throw new CniError(CniCode.TryAgainLater, err.message);
      throw err;
    }
    let endpoint: Endpoint | undefined;
    const t0 = performance.now();
    const at = { plumbed: t0 };
    try {
      const p = await plumb({ owner: key, netnsPath: req.netns, ifName: req.ifName, ip, mtu: req.mtu ?? DEFAULT_MTU });
      endpoint = {
        key, containerId: req.containerId, ifName: req.ifName, netns: req.netns, ip, ...p,
        podNamespace: req.args.K8S_POD_NAMESPACE ?? '', podName: req.args.K8S_POD_NAME ?? '', podUid: req.args.K8S_POD_UID ?? '',
        createdAt: new Date().toISOString(),
      };
      at.plumbed = performance.now();
      this.save(endpoint);
      await endpointHooks().beforeAddReturns(endpoint);
    } catch (err) {
      if (endpoint) this.forget(key);
      await unplumb(hostIfName(key)).catch(() => undefined);
      this.ipam.release(key);
      throw err;
    }
    this.log.info('endpoint added', {
      key, ip, hostIf: endpoint.hostIf, pod: `${endpoint.podNamespace}/${endpoint.podName}`,
      ms: { plumb: elapsedMs(t0, at.plumbed), enforce: elapsedMs(at.plumbed), total: elapsedMs(t0) },
    });
    return {
      cniVersion: req.cniVersion,
      interfaces: [
        { name: endpoint.hostIf, mac: endpoint.hostMac },
        { name: req.ifName, mac: endpoint.podMac, sandbox: req.netns },
      ],
      ips: [{ address: `${ip}/32`, gateway: POD_GATEWAY, interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: POD_GATEWAY }],
      dns: {},
    };
  }

  private async del(req: AgentRequest): Promise<undefined> {
    const key = `${req.containerId}/${req.ifName}`;
    const endpoint = this.record(key);
    await unplumb(endpoint?.hostIf ?? hostIfName(key));
    const ip = this.ipam.release(key);
    this.forget(key);
    if (endpoint) {
      await endpointHooks().afterDelete(endpoint).catch((err: unknown) => this.log.error('afterDelete hook failed', { key, err }));
    }
    if (endpoint || ip) this.log.info('endpoint deleted', { key, ip });
    return undefined;
  }

  private async check(req: AgentRequest): Promise<undefined> {
    const key = `${req.containerId}/${req.ifName}`;
    const endpoint = this.record(key);
    if (!endpoint) throw new CniError(CniCode.EndpointMismatch, `no endpoint ${key}`);
    const prevIps = (req.prevResult?.ips ?? []).map((i) => i.address.split('/')[0]);
    if (!prevIps.includes(endpoint.ip)) throw new CniError(CniCode.EndpointMismatch, `prevResult does not hold ${endpoint.ip}`);
    const problem = await verifyPlumbing({ hostIf: endpoint.hostIf, netnsPath: req.netns, ifName: req.ifName, ip: endpoint.ip });
    if (problem) throw new CniError(CniCode.EndpointMismatch, problem);
    return undefined;
  }

  private file(key: string): string {
    return join(this.dir, `${hostIfName(key)}.json`);
  }

  private record(key: string): Endpoint | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as Endpoint;
    } catch {
      return undefined;
    }
  }

  private save(endpoint: Endpoint): void {
    writeFileSync(this.file(endpoint.key), JSON.stringify(endpoint, null, 2) + '\n', { mode: 0o600 });
  }

  private forget(key: string): void {
    rmSync(this.file(key), { force: true });
  }
}
