/**
 * Entry point of the node's HTTP proxy as a process of its own (upstream runs Envoy beside the
 * agent, not inside it): the transparent listeners and every proxied connection live here, so an
 * agent that stops or restarts cuts none of them. The agent starts it (envoy/http/proxy-supervisor.ts),
 * or the chart's cilium-envoy DaemonSet runs it (`external-envoy-proxy`), in the node's network
 * namespace with `--socket-path` (where the agent connects: policy in, flows out) and `--pin-root`
 * (the agent's bpffs folder, whose pinned ipcache gives peers' identities), and
 * `--http-upstream-linger-timeout` (how it closes upstream connections; http/upstream-close.ts), which
 * the agent's own setting replaces on each of its connections.
 * It exits when another proxy already answers on the socket, and when its socket file disappears
 * (the node's state is gone); SIGTERM stops it. No agent connected is no reason to exit: it keeps
 * enforcing the last table it was given.
 */
import { statSync } from 'node:fs';
import { createLogger } from '../runtime/logger.ts';
import { runUntilSignalled } from '../runtime/process-main.ts';
import { defaultProxyPort } from '../policy/endpoint-policy.ts';
import { nativeProxySockets } from './http/native-sockets.ts';
import { HttpPolicyStore } from './http/policy-store.ts';
import { ProxyControlServer, socketAnswers } from './http/proxy-control.ts';
import { HttpProxy } from './http/proxy.ts';
import { pinnedIpcacheIdentity } from './pinned-ipcache.ts';
import { parseHttpProxyArgs, type HttpProxyArgs } from './proxy-args.ts';
import { parseUpstreamLinger, UPSTREAM_LINGER_SETTING } from './http/upstream-close.ts';

/** How often the socket file is checked. */
const WATCH_MS = 1000;

let args: HttpProxyArgs;
try {
  args = parseHttpProxyArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`ciliate-http-proxy: ${(err as Error).message}\n`);
  process.exit(2);
}
const socketPath = args.socketPath;
const log = createLogger({ level: args.debug ? 'debug' : 'info', fields: { component: 'http-proxy', pid: process.pid } });

runUntilSignalled('http-proxy', log, async (signal) => {
  if (await socketAnswers(socketPath)) {
    log.info('another proxy answers on the socket; exiting', { socket: socketPath });
    return;
  }
  const store = new HttpPolicyStore();
  // The agent's settings, on each of its connections: they replace the flags' from then on.
  const control = new ProxyControlServer(store, log, (s) => {
    try {
      const seconds = parseUpstreamLinger(UPSTREAM_LINGER_SETTING, String(s.upstreamLingerSeconds));
      log.info('agent settings applied', { upstreamLingerTimeout: seconds, changed: proxy.setUpstreamLinger(seconds) });
    } catch (err) {
      log.warn('agent settings refused; keeping the current ones', { err: (err as Error).message });
    }
  });
  const proxy = new HttpProxy({
    ingressPort: defaultProxyPort('http', 'ingress'), egressPort: defaultProxyPort('http', 'egress'), policies: store,
    identityOf: pinnedIpcacheIdentity(args.pinRoot), sockets: nativeProxySockets, log, flows: control,
    upstreamLingerSeconds: args.upstreamLingerSeconds,
  });
  await control.listen(socketPath);
  await proxy.start();
  log.info('http proxy listening', {
    socket: socketPath, ports: [defaultProxyPort('http', 'ingress'), defaultProxyPort('http', 'egress')], upstreamLingerTimeout: args.upstreamLingerSeconds,
  });
  const inode = statSync(socketPath).ino;
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    timer = setInterval(() => {
      let now: number | undefined;
      try {
        now = statSync(socketPath).ino;
      } catch {
        // Gone: the node's state was removed.
      }
      if (now === inode) return;
      log.info('the socket file is gone or replaced; exiting', { socket: socketPath });
      resolve();
    }, WATCH_MS);
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  proxy.close();
  control.close();
});
