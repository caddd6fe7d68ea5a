/**
 * Entry point of the node's HTTP proxy as a process of its own (upstream runs Envoy beside the
 * agent, not inside it): the transparent listeners and every proxied connection live here, so an
 * agent that stops or restarts cuts none of them. The agent starts it (envoy/http/proxy-supervisor.ts),
 * or the chart's cilium-envoy DaemonSet runs it (`external-envoy-proxy`), in the node's network
 * namespace with `--socket-path` (where the agent connects: policy in, flows out) and `--pin-root`
 * (the agent's bpffs folder, whose pinned ipcache gives peers' identities).
 * It exits when another proxy already answers on the socket, and when its socket file disappears
 * (the node's state is gone); SIGTERM stops it. No agent connected is no reason to exit: it keeps
 * enforcing the last table it was given.
 */
import { statSync } from 'node:fs';
import { createLogger } from '../runtime/logger.ts';
import { runUntilSignalled } from '../runtime/process-main.ts';
import { ConfigError, parseFlags } from '../runtime/settings.ts';
import { defaultProxyPort } from '../policy/endpoint-policy.ts';
import { nativeProxySockets } from './http/native-sockets.ts';
import { HttpPolicyStore } from './http/policy-store.ts';
import { ProxyControlServer, socketAnswers } from './http/proxy-control.ts';
import { HttpProxy } from './http/proxy.ts';
import { pinnedIpcacheIdentity } from './pinned-ipcache.ts';

/** The flags the proxy takes. */
const FLAGS = ['socket-path', 'pin-root', 'debug'];
/** How often the socket file is checked. */
const WATCH_MS = 1000;

let flags: Record<string, string>;
try {
  flags = parseFlags(process.argv.slice(2), (n) => FLAGS.includes(n));
  for (const required of ['socket-path', 'pin-root']) if (!flags[required]) throw new ConfigError(required, 'required');
} catch (err) {
  process.stderr.write(`ciliate-http-proxy: ${(err as Error).message}\n`);
  process.exit(2);
}
const socketPath = flags['socket-path']!;
const log = createLogger({ level: flags.debug === 'true' ? 'debug' : 'info', fields: { component: 'http-proxy', pid: process.pid } });

runUntilSignalled('http-proxy', log, async (signal) => {
  if (await socketAnswers(socketPath)) {
    log.info('another proxy answers on the socket; exiting', { socket: socketPath });
    return;
  }
  const store = new HttpPolicyStore();
  const control = new ProxyControlServer(store, log);
  const proxy = new HttpProxy({
    ingressPort: defaultProxyPort('http', 'ingress'), egressPort: defaultProxyPort('http', 'egress'), policies: store,
    identityOf: pinnedIpcacheIdentity(flags['pin-root']!), sockets: nativeProxySockets, log, flows: control,
  });
  await control.listen(socketPath);
  await proxy.start();
  log.info('http proxy listening', { socket: socketPath, ports: [defaultProxyPort('http', 'ingress'), defaultProxyPort('http', 'egress')] });
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
