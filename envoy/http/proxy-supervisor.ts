/**
 * The node's HTTP proxy as the agent runs it: a process of its own (envoy/proxy-main.ts) that the
 * agent finds on its socket or starts, detached, so that an agent which stops or is killed leaves
 * the proxy and its connections running (upstream's cilium-envoy outlives agent restarts). The
 * agent owns the redirect's kernel state (TPROXY chain and policy routing) for the proxy's ports,
 * connects to the proxy, pushes it the whole L7 policy table on every connection and each change
 * after, and takes its flow records. A proxy that dies (its connection closes) is started again,
 * with a growing delay while it keeps failing. With `external` (`external-envoy-proxy`: the chart's
 * cilium-envoy DaemonSet runs the proxy) the agent never starts one: it connects, and waits on the
 * socket until the DaemonSet's proxy answers. Nothing here stops the agent.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultProxyPort } from '../../policy/endpoint-policy.ts';
import { realClock, sleep } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Runnable } from '../../runtime/manager.ts';
import type { L7PolicyTable } from '../l7-policy-table.ts';
import { httpProxyFlags } from '../proxy-args.ts';
import { proxySocketPath } from '../proxy-protocol.ts';
import { TransparentRedirect } from '../tproxy.ts';
import { HttpProxyClient } from './proxy-client.ts';
import type { HttpFlowRecord } from './proxy.ts';
import { DEFAULT_UPSTREAM_LINGER } from './upstream-close.ts';

/** What the supervisor needs from the agent. */
export interface HttpProxySupervisorOptions {
  readonly table: L7PolicyTable;
  /** The agent's state dir: the proxy's socket and log are below it. */
  readonly stateDir: string;
  /** The agent's bpffs folder (the proxy reads the pinned ipcache there). */
  readonly pinRoot: string;
  readonly log: Logger;
  /** The proxy is run apart (`external-envoy-proxy`): wait for it on the socket, never start it. */
  readonly external?: boolean;
  /** `envoy-http-upstream-linger-timeout` (seconds): a proxy the agent starts gets it as a flag, a running one over the socket. */
  readonly upstreamLingerSeconds?: number;
  onFlow?(flow: HttpFlowRecord): void;
}

/** The first and the longest delay before starting the proxy again. */
const BACKOFF_MS = { min: 250, max: 10_000 } as const;
/** A connection that lasted this long resets the delay. */
const STABLE_MS = 30_000;
/** How long a started proxy has to answer on its socket. */
const START_TIMEOUT_MS = 15_000;
/** The proxy's log file in the state dir. */
export const HTTP_PROXY_LOG = 'http-proxy.log';

/** Whether this code runs as a bundle (the images' `agent.mjs`) rather than TypeScript under tsx. */
const BUNDLED = !import.meta.url.endsWith('.ts');

/** The proxy's command line: its bundle beside the agent's, or its TypeScript entry with the agent's loader flags. */
function proxyArgv(): string[] {
  if (BUNDLED) return [process.execPath, fileURLToPath(new URL('./http-proxy.mjs', import.meta.url))];
  return [process.execPath, ...process.execArgv, fileURLToPath(new URL('../proxy-main.ts', import.meta.url))];
}

/** The supervisor as a runnable of the agent's manager. */
export function httpProxySupervisor(o: HttpProxySupervisorOptions): Runnable {
  const socketPath = proxySocketPath(o.stateDir);
  const client = new HttpProxyClient((f) => o.onFlow?.(f), (err) => o.log.warn('http proxy socket', { err: err.message }));

  const startProxy = (): void => {
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
    const logFd = openSync(join(o.stateDir, HTTP_PROXY_LOG), 'a', 0o600);
    const [cmd, ...args] = proxyArgv();
    try {
      const flags = httpProxyFlags({ socketPath, pinRoot: o.pinRoot, debug: false, upstreamLingerSeconds: o.upstreamLingerSeconds ?? DEFAULT_UPSTREAM_LINGER });
      const child = spawn(cmd!, [...args, ...flags], { detached: true, stdio: ['ignore', logFd, logFd] });
      child.on('error', (err) => o.log.error('http proxy process not started', { err: err.message }));
      child.on('exit', (code, sig) => o.log.warn('http proxy process exited', { pid: child.pid, code, signal: sig }));
      child.unref();
      o.log.info('http proxy process started', { pid: child.pid, socket: socketPath });
    } finally {
      closeSync(logFd);
    }
  };

  /** Connects, starting the proxy when none answers (unless it is external); undefined when none answers even then. */
  const connect = async (signal: AbortSignal): Promise<{ closed: Promise<void> } | undefined> => {
    const attempt = () => client.connect(socketPath).catch(() => undefined);
    const running = await attempt();
    if (running) return running;
    if (o.external) o.log.info('waiting for the external http proxy (cilium-envoy) on its socket', { socket: socketPath });
    else startProxy();
    for (const deadline = Date.now() + START_TIMEOUT_MS; (o.external || Date.now() < deadline) && !signal.aborted;) {
      await sleep(realClock, 100, signal).catch(() => undefined);
      const started = await attempt();
      if (started) return started;
    }
    return undefined;
  };

  return {
    async start(signal) {
      const ports = [{ port: defaultProxyPort('http', 'ingress'), proto: 'tcp' as const }, { port: defaultProxyPort('http', 'egress'), proto: 'tcp' as const }];
      o.table.subscribe(client);
      let backoff: number = BACKOFF_MS.min;
      let redirected = false;
      while (!signal.aborted) {
        try {
          if (!redirected) await new TransparentRedirect().add(ports);
          redirected = true;
          const connection = await connect(signal);
          if (connection) {
            const since = Date.now();
            o.log.info('http proxy connected; pushing the L7 policy table', { socket: socketPath });
            // A proxy that outlived an agent restart takes this agent's setting, not the one it was started with.
            client.sendSettings({ upstreamLingerSeconds: o.upstreamLingerSeconds ?? DEFAULT_UPSTREAM_LINGER });
            o.table.resend(client);
            await Promise.race([connection.closed, new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))]);
            if (signal.aborted) break;
            if (Date.now() - since > STABLE_MS) backoff = BACKOFF_MS.min;
            o.log.warn(`http proxy connection lost; ${o.external ? 'reconnecting' : 'starting it again'}`, { delayMs: backoff });
          } else if (!signal.aborted) o.log.error('http proxy did not answer on its socket; retrying', { socket: socketPath, delayMs: backoff });
        } catch (err) {
          o.log.error('http proxy not set up; retrying', { err: (err as Error).message, delayMs: backoff });
        }
        await sleep(realClock, backoff, signal).catch(() => undefined);
        backoff = Math.min(backoff * 2, BACKOFF_MS.max);
      }
      // The proxy keeps running (and enforcing) without the agent, as upstream's Envoy does.
      client.disconnect();
    },
  };
}
