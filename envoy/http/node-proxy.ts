/**
 * The HTTP proxy as the agent runs it: in the agent's process and network namespace, on the proxy
 * ports the policy engine gives HTTP redirects, fed by the agent's L7 policy table, with the
 * redirect's kernel state (TPROXY chain and policy routing) for its ports. A failure to start is
 * logged and retried; it never stops the agent (flows for the proxy then find no listener).
 */
import net from 'node:net';
import { native } from '../../datapath/native.ts';
import { defaultProxyPort } from '../../policy/endpoint-policy.ts';
import { realClock, sleep } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Runnable } from '../../runtime/manager.ts';
import type { L7PolicyTable } from '../l7-policy-table.ts';
import { TransparentRedirect } from '../tproxy.ts';
import { HttpPolicyStore } from './policy-store.ts';
import { HttpProxy, type HttpFlowRecord, type ProxySockets } from './proxy.ts';

/** What the node's HTTP proxy needs from the agent. */
export interface NodeHttpProxyOptions {
  readonly table: L7PolicyTable;
  /** The security identity of an address. */
  identityOf(ip: string): number;
  readonly log: Logger;
  onFlow?(flow: HttpFlowRecord): void;
}

/** How long to wait before starting again after a failed start. */
const RETRY_MS = 5000;

/** Transparent sockets from the native module. */
export const nativeProxySockets: ProxySockets = {
  listen: (port, mark) => native().transparentListen('0.0.0.0', port, 'tcp', mark),
  connect: (src, dst, mark) => new net.Socket({ fd: native().transparentConnect(src.ip, src.port, dst.ip, dst.port, mark), readable: true, writable: true }),
};

/** The node's HTTP proxy as a runnable of the agent's manager. */
export function nodeHttpProxy(o: NodeHttpProxyOptions): Runnable & { proxy: HttpProxy } {
  const ingressPort = defaultProxyPort('http', 'ingress');
  const egressPort = defaultProxyPort('http', 'egress');
  const policies = new HttpPolicyStore();
  const proxy = new HttpProxy({ ingressPort, egressPort, policies, identityOf: o.identityOf, sockets: nativeProxySockets, log: o.log, ...(o.onFlow ? { onFlow: o.onFlow } : {}) });
  const redirect = new TransparentRedirect();
  return {
    proxy,
    async start(signal) {
      o.table.subscribe(policies);
      while (!signal.aborted) {
        try {
          await redirect.add([{ port: ingressPort, proto: 'tcp' }, { port: egressPort, proto: 'tcp' }]);
          await proxy.start();
          o.log.info('http proxy listening', { ingressPort, egressPort });
          break;
        } catch (err) {
          proxy.close();
          o.log.error('http proxy not started; retrying', { err: (err as Error).message });
          await sleep(realClock, RETRY_MS, signal).catch(() => undefined);
        }
      }
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      proxy.close();
    },
  };
}
