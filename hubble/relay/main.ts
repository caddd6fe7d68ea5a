/**
 * `hubble-relay serve [--flag=value ...]` (and `hubble-relay version`): Ciliate's Hubble Relay, run
 * as upstream's is, with its settings from /etc/hubble-relay/config.yaml and flags (config.ts).
 * Serves the cluster's Observer API on `listen-address` until SIGTERM/SIGINT.
 */
import { setMaxListeners } from 'node:events';
import { createLogger } from '../../runtime/logger.ts';
import { runUntilSignalled } from '../../runtime/process-main.ts';
import { ConfigError } from '../../runtime/settings.ts';
import { bindTarget, readRelayConfigFile, relayConfig, RELAY_CONFIG_FILE, RELAY_VERSION, type RelayConfig } from './config.ts';
import { PeerPool } from './peer-pool.ts';
import { RelayServer } from './server.ts';

const USAGE = `usage: hubble-relay serve [--peer-service=TARGET] [--listen-address=HOST:PORT] [--health-listen-address=HOST:PORT]
                          [--cluster-name=NAME] [--retry-timeout=30s] [--sort-buffer-len-max=100] [--sort-buffer-drain-timeout=1s]
       hubble-relay version`;

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === 'version') {
    console.log(`hubble-relay ${RELAY_VERSION}`);
    return;
  }
  if (command === 'serve' && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(USAGE);
    return;
  }
  if (command !== 'serve') {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  let cfg: RelayConfig;
  try {
    cfg = relayConfig(readRelayConfigFile(RELAY_CONFIG_FILE), rest);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`hubble-relay: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  setMaxListeners(100);
  const log = createLogger({ level: cfg.debug ? 'debug' : 'info', fields: { subsys: 'hubble-relay' } });
  runUntilSignalled('hubble-relay', log, async (signal) => {
    const pool = new PeerPool({ peerService: cfg.peerService, retryTimeoutMs: cfg.retryTimeoutMs, log });
    const server = new RelayServer({
      peers: () => pool.list(), peerServiceConnected: () => pool.peerServiceConnected, version: RELAY_VERSION,
      sortBufferLenMax: cfg.sortBufferLenMax, sortBufferDrainTimeoutMs: cfg.sortBufferDrainTimeoutMs, log,
    });
    pool.start();
    await server.listen(bindTarget(cfg.listenAddress), cfg.healthListenAddress ? bindTarget(cfg.healthListenAddress) : undefined);
    log.info('Hubble Relay listening', { address: cfg.listenAddress, peerService: cfg.peerService, cluster: cfg.clusterName });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    server.close();
    pool.stop();
  });
}

main(process.argv.slice(2));
