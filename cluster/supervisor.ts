/**
 * The supervisor: a detached process per local cluster that starts the control-plane components in
 * order, forwards a loopback port to the apiserver, records every component's state, and on
 * SIGTERM stops them all. A component that dies is recorded with its exit status and stays dead,
 * so `ciliate cluster status` shows it with its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { componentSpecs, HUBBLE_RELAY_PORT, hubbleRelayComponentSpec, nodeComponentSpecs, operatorComponentSpec, type ComponentSpec } from './components.ts';
import { ensureAgentRbac } from './node-rbac.ts';
import { installCrds } from './crd-install.ts';
import { readJson, writeJsonAtomic, type ClusterConfig } from './config.ts';
import { waitHealthy } from './health.ts';
import { pkiFiles } from './pki.ts';
import type { ClusterState, ComponentState } from './state.ts';

const STOP_GRACE_MS = 5000;

/** Runs the control plane of the cluster whose folder is `dir` until SIGTERM. */
export async function superviseCluster(dir: string): Promise<void> {
  const config = readJson<ClusterConfig>(join(dir, 'config.json'));
  if (!config) throw new Error(`no cluster config in ${dir}`);
  const statePath = join(dir, 'state.json');
  const state: ClusterState = { supervisorPid: process.pid, phase: 'starting', startedAt: new Date().toISOString(), components: {} };
  const children = new Map<string, ChildProcess>();
  let forwarder: Server | undefined;
  let relayForwarder: Server | undefined;
  let stopping = false;
  let writes = Promise.resolve();
  const save = () => (writes = writes.then(() => writeJsonAtomic(statePath, state)).catch(() => undefined));

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    state.phase = state.phase === 'failed' ? 'failed' : 'stopping';
    await save();
    forwarder?.close();
    relayForwarder?.close();
    for (const name of [...children.keys()].reverse()) await stopChild(children.get(name)!);
    await writes;
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));

  const startComponent = (spec: ComponentSpec, restarts = 0): ComponentState => {
    const log = join(dir, 'logs', `${spec.name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(spec.command, spec.args, { stdio: ['ignore', fd, fd], ...(spec.env ? { env: { ...process.env, ...spec.env } } : {}) });
    closeSync(fd);
    children.set(spec.name, child);
    const cs: ComponentState = { pid: child.pid, log, phase: restarts ? 'running' : 'starting', ...(restarts ? { restarts } : {}) };
    state.components[spec.name] = cs;
    child.on('exit', (code, signal) => {
      Object.assign(cs, { phase: 'exited', exitCode: code, signal });
      if (!stopping && spec.restart) {
        // Back off 1 s, doubling to 30 s, as kubelet does for a crashing daemon.
        const delay = Math.min(1000 * 2 ** Math.min(restarts, 5), 30_000);
        setTimeout(() => {
          if (!stopping) startComponent(spec, restarts + 1);
        }, delay);
      } else if (!stopping) {
        const why = `${spec.name} exited (${signal ?? `code ${code}`}); its log is ${log}`;
        state.error = state.error ? `${state.error}; ${why}` : why;
        state.phase = state.phase === 'running' ? 'degraded' : 'failed';
      }
      void save();
    });
    child.on('error', (err) => {
      Object.assign(cs, { phase: 'exited', exitCode: null });
      state.error = `${spec.name} could not start: ${err.message}`;
      state.phase = 'failed';
      void save();
    });
    void save();
    return cs;
  };

  const pki = pkiFiles(join(dir, 'pki'));
  try {
    for (const spec of componentSpecs(config)) {
      const cs = startComponent(spec);
      const tls = spec.health?.clientCert ? { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key } : {};
      if (spec.health) await waitHealthy(spec.health.url, tls, 90_000, () => (cs.phase === 'exited' ? state.error : undefined));
      cs.phase = 'running';
      await save();
    }
    forwarder = await forwardLoopbackOrMove(dir, config);
    await installCrds(join(dir, 'admin.kubeconfig'));
    const operator = operatorComponentSpec(config);
    if (operator) {
      const cs = startComponent(operator);
      await waitHealthy(operator.health!.url, {}, 90_000, () => (cs.phase === 'exited' ? state.error : undefined));
      cs.phase = 'running';
      await save();
    }
    if (config.nodes?.length) {
      // Host-process agents' permissions; the chart brings its own agents' (charts/ciliate/templates/agent-rbac.yaml).
      if (config.install !== 'helm') await ensureAgentRbac(join(dir, 'admin.kubeconfig'));
      for (const spec of [...nodeComponentSpecs(config), ...[hubbleRelayComponentSpec(config)].filter((s) => s !== undefined)]) {
        const cs = startComponent(spec);
        await spec.ready?.();
        cs.phase = 'running';
        await save();
      }
      relayForwarder = await forwardHubbleRelay(dir, config);
    }
    state.phase = 'running';
    await save();
  } catch (err) {
    state.phase = 'failed';
    state.error = state.error ?? (err as Error).message;
    await save();
    await stop(1);
  }
}

/** Stops a child with SIGTERM, then SIGKILL after a grace period. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts the loopback forwarder on the configured port; if another process took that port since
 * `up` chose it (clusters started side by side), moves to a free port and rewrites config.json and
 * the admin kubeconfig to match before the cluster is reported running.
 */
async function forwardLoopbackOrMove(dir: string, config: ClusterConfig): Promise<Server> {
  try {
    return await forwardLoopback(config.ports.loopback, config.network.gateway, config.ports.apiserver);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
  }
  const server = await forwardLoopback(0, config.network.gateway, config.ports.apiserver);
  const old = `https://127.0.0.1:${config.ports.loopback}`;
  config.ports.loopback = (server.address() as AddressInfo).port;
  const kubeconfig = join(dir, 'admin.kubeconfig');
  writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(old, `https://127.0.0.1:${config.ports.loopback}`), { mode: 0o600 });
  await writeJsonAtomic(join(dir, 'config.json'), config);
  return server;
}

/**
 * Forwards upstream's Hubble Relay port on loopback to the cluster's relay when no one holds it
 * (binding it is the claim, so clusters started together never share it) and records it in
 * config.json; otherwise clients use the relay's own port.
 */
async function forwardHubbleRelay(dir: string, config: ClusterConfig): Promise<Server | undefined> {
  if (!config.hubbleRelay) return undefined;
  try {
    const server = await forwardLoopback(HUBBLE_RELAY_PORT, '127.0.0.1', config.hubbleRelay.listenPort);
    config.hubbleRelay.port = HUBBLE_RELAY_PORT;
    await writeJsonAtomic(join(dir, 'config.json'), config);
    return server;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return undefined;
  }
}

/** Forwards 127.0.0.1:`port` to `host`:`targetPort`, byte for byte. */
function forwardLoopback(port: number, host: string, targetPort: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(targetPort, host);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
