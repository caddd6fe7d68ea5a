// ciliate-operator entry point: parse settings, connect, run until SIGTERM/SIGINT.
import { setMaxListeners } from 'node:events';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../runtime/index.ts';
import { ConfigError, loadConfig, type ConfigSources, type OperatorConfig } from './config.ts';
import { buildOperator } from './operator.ts';

/** Exit code for a rejected configuration. */
export const EXIT_BAD_CONFIG = 2;

async function main(): Promise<number> {
  setMaxListeners(100); // many runnables, workers and timers listen on the same stop signals

  const sources: ConfigSources = { argv: process.argv.slice(2), env: process.env };
  let cfg: OperatorConfig;
  try {
    cfg = loadConfig(sources);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ciliate-operator: ${err.message}\n`);
    return EXIT_BAD_CONFIG;
  }
  const log = createLogger({ level: cfg.debug ? 'debug' : 'info', fields: { component: 'ciliate-operator', id: cfg.id } });
  const kc = new KubeConfig();
  if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
  else kc.loadFromDefault();
  const operator = buildOperator(cfg, kc, { log, reload: () => loadConfig(sources) });
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort());
  log.info('starting', { ipam: cfg.ipam, namespace: cfg.namespace });
  try {
    await operator.run(stop.signal);
    return 0;
  } catch (err) {
    log.error('operator stopped', { err });
    return 1;
  }
}

process.exitCode = await main();
// Open watch connections must not keep a stopped operator alive.
setTimeout(() => process.exit(), 2000).unref();
