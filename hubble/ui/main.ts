/**
 * `hubble-ui`: the service map's web server.
 *
 *   hubble-ui --hubble-server unix:///var/run/cilium/hubble.sock|host:4245 [--listen :8081] [--kubeconfig PATH]
 *
 * The Observer address may also come from FLOWS_API_ADDR (upstream hubble-ui's backend variable) or
 * HUBBLE_SERVER (the hubble CLI's). Services are resolved from the API server of --kubeconfig (or
 * KUBECONFIG), or of the in-cluster account in a pod; without either, only flows that name their
 * Service show one.
 */
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeRequester } from '../../runtime/kube-request.ts';
import { createLogger } from '../../runtime/logger.ts';
import { runUntilSignalled } from '../../runtime/process-main.ts';
import { parseListenAddress } from '../../runtime/settings.ts';
import { ObserverClient } from './observer-client.ts';
import { UiServer } from './server.ts';
import { ServiceBackends } from './service-backends.ts';

/** The port hubble-ui listens on. */
export const UI_PORT = 8081;

/** The parsed command line. */
export interface UiConfig {
  hubbleServer: string;
  host: string | undefined;
  port: number;
  kubeconfig: string | undefined;
  inCluster: boolean;
}

/** Parses `argv` (and FLOWS_API_ADDR, HUBBLE_SERVER, KUBECONFIG, KUBERNETES_SERVICE_HOST of `env`); throws naming the bad flag. */
export function parseUiArgs(argv: string[], env: NodeJS.ProcessEnv): UiConfig {
  const { values } = parseArgs({ args: argv, options: { 'hubble-server': { type: 'string' }, listen: { type: 'string' }, kubeconfig: { type: 'string' } } });
  const hubbleServer = values['hubble-server'] || env.FLOWS_API_ADDR || env.HUBBLE_SERVER || '';
  if (!hubbleServer) throw new Error('--hubble-server: the Observer address is required (unix:///path/hubble.sock or host:4245)');
  const listen = values.listen ?? `:${UI_PORT}`;
  let address: { host: string; port: number };
  try {
    address = parseListenAddress('--listen', listen);
  } catch (err) {
    throw new Error((err as Error).message.replace(/^invalid setting /, ''), { cause: err });
  }
  const { host, port } = address;
  return { hubbleServer, host: host || undefined, port, kubeconfig: values.kubeconfig || env.KUBECONFIG || undefined, inCluster: !!env.KUBERNETES_SERVICE_HOST };
}

function main(): void {
  const log = createLogger({ fields: { component: 'hubble-ui' } });
  let cfg: UiConfig;
  try {
    cfg = parseUiArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`hubble-ui: ${(err as Error).message}\n`);
    process.exit(2);
  }
  runUntilSignalled('hubble-ui', log, async (signal) => {
    let services: ServiceBackends | undefined;
    if (cfg.kubeconfig || cfg.inCluster) {
      const kc = new KubeConfig();
      if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
      else kc.loadFromCluster();
      services = new ServiceBackends(kubeRequester(kc), 5000, (err) => log.warn('listing services failed', { err: err.message }));
      await services.start();
    }
    const observer = new ObserverClient(cfg.hubbleServer);
    const server = new UiServer({ observer, serviceOf: services && ((ip, port) => services.lookup(ip, port)), log });
    const port = await server.listen(cfg.port, cfg.host);
    log.info('hubble-ui listening', { port, hubbleServer: cfg.hubbleServer });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    services?.stop();
    await server.close();
    observer.close();
  });
}

if (import.meta.url === `file://${process.argv[1]}`) main();
