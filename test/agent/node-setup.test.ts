// The agent pod's node setup (agent/node-setup/): CNI installation with upstream's file name and
// cni.* behaviour, mounts only where the node lacks them, state cleaning, and settings named in errors.
import { expect } from 'chai';
import type { EventsV1Event } from '@kubernetes/client-node';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKUP_SUFFIX, CONFLIST_NAME, installPlugin, removeConflist, writeConflist } from '../../agent/node-setup/cni-install.ts';
import { cleanAgentState } from '../../agent/node-setup/clean-state.ts';
import { nodeSetup } from '../../agent/node-setup/main.ts';
import { ensureBpffs, ensureCgroup2 } from '../../agent/node-setup/mounts.ts';
import { nodeSetupConfig } from '../../agent/node-setup/settings.ts';
import { reportSetupFailure } from '../../agent/node-setup/report.ts';
import { cniConfWriter } from '../../agent/node-setup/cni-conf-writer.ts';
import { NETWORK_UNAVAILABLE, REASON_SETUP_FAILED, REASON_UP, setNetworkUnavailable } from '../../agent/node-setup/node-condition.ts';
import type { KubeRequest } from '../../runtime/kube-request.ts';
import { createLogger } from '../../runtime/logger.ts';
import { AGENT_SETTINGS } from '../../agent/config/keys.ts';
import { onBpffs } from '../../agent/host-checks.ts';

describe('agent node setup', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ciliate-node-setup-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes 05-cilium.conflist naming the agent socket, and renames other configurations in exclusive mode', () => {
    const conf = join(dir, 'net.d');
    mkdirSync(conf);
    writeFileSync(join(conf, '10-bridge.conflist'), '{}');
    writeFileSync(join(conf, 'README'), 'not a config');
    expect(writeConflist(conf, { socket: '/var/run/cilium/cilium.sock' }, true)).to.deep.equal(['10-bridge.conflist']);
    expect(readdirSync(conf).sort()).to.deep.equal([CONFLIST_NAME, `10-bridge.conflist${BACKUP_SUFFIX}`, 'README'].sort());
    const written = JSON.parse(readFileSync(join(conf, CONFLIST_NAME), 'utf8'));
    expect(written).to.deep.equal({ cniVersion: '1.0.0', name: 'cilium', plugins: [{ type: 'ciliate-cni', socket: '/var/run/cilium/cilium.sock' }] });
    expect(removeConflist(conf)).to.equal(true);
    expect(removeConflist(conf)).to.equal(false);
  });

  it('leaves other configurations alone when not exclusive, and names the missing folder', () => {
    const conf = join(dir, 'net.d');
    mkdirSync(conf);
    writeFileSync(join(conf, '10-bridge.conf'), '{}');
    expect(writeConflist(conf, { socket: '/s' }, false)).to.deep.equal([]);
    expect(readdirSync(conf).sort()).to.deep.equal([CONFLIST_NAME, '10-bridge.conf']);
    expect(() => writeConflist(join(dir, 'absent'), { socket: '/s' }, true)).to.throw(/cni\.confPath/);
  });

  it('installs the plugin as an executable ciliate-cni, replacing an older copy', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const source = join(dir, 'relay');
    writeFileSync(source, 'new');
    writeFileSync(join(bin, 'ciliate-cni'), 'old');
    const target = installPlugin(source, bin);
    expect(readFileSync(target, 'utf8')).to.equal('new');
    expect(statSync(target).mode & 0o777).to.equal(0o755);
    expect(() => installPlugin(source, join(dir, 'nope'))).to.throw(/cni\.binPath/);
  });

  it('mounts only where the node lacks a BPF filesystem or a cgroup v2 hierarchy, naming the setting on failure', async () => {
    const calls: string[][] = [];
    const failing = async (args: string[]) => {
      calls.push(args);
      throw new Error('permission denied');
    };
    await ensureBpffs(join(dir, 'bpf'), failing).then(() => expect.fail('mounted'), (err: Error) => expect(err.message).to.match(/^bpf-root: .*permission denied/));
    await ensureCgroup2(join(dir, 'cg'), failing).then(() => expect.fail('mounted'), (err: Error) => expect(err.message).to.match(/^cgroup-root: .*permission denied/));
    expect(calls.map((c) => c[1])).to.deep.equal(['bpf', 'cgroup2']);
    if (onBpffs('/sys/fs/bpf')) expect(await ensureBpffs('/sys/fs/bpf', async () => expect.fail('no mount needed'))).to.equal('present');
  });

  it('cleans the node\'s pins, and with the full clean its state, keeping the cgroup mount point', () => {
    const bpf = join(dir, 'bpf');
    const state = join(dir, 'run');
    mkdirSync(join(bpf, 'ciliate', 'n1', 'maps'), { recursive: true });
    mkdirSync(join(bpf, 'ciliate', 'n2'), { recursive: true });
    mkdirSync(join(state, 'cgroupv2'), { recursive: true });
    writeFileSync(join(state, 'endpoints.json'), '{}');
    expect(cleanAgentState({ nodeName: 'n1', bpfRoot: bpf, stateDir: state, all: false, keep: [] })).to.deep.equal({ pins: true, stateEntries: 0 });
    expect(readdirSync(join(bpf, 'ciliate'))).to.deep.equal(['n2']);
    expect(cleanAgentState({ nodeName: 'n1', bpfRoot: bpf, stateDir: state, all: true, keep: [join(state, 'cgroupv2')] })).to.deep.equal({ pins: false, stateEntries: 1 });
    expect(readdirSync(state)).to.deep.equal(['cgroupv2']);
  });

  it('reads upstream\'s keys with their defaults and names a bad value', () => {
    const cfg = nodeSetupConfig({}, AGENT_SETTINGS);
    expect(cfg).to.include({ cniUninstall: false, cleanState: false, bpfRoot: '/sys/fs/bpf', socketPath: '/var/run/cilium/cilium.sock' });
    expect(() => nodeSetupConfig({ 'cni-uninstall': 'maybe' }, AGENT_SETTINGS)).to.throw(/cni-uninstall/);
    expect(() => nodeSetupConfig({ 'bpf-root': 'sys/fs/bpf' }, AGENT_SETTINGS)).to.throw(/bpf-root/);
  });

  it('init leaves bpf-root to the host with --skip-bpf-mount (bpf.autoMount.enabled false)', async () => {
    const cfgDir = join(dir, 'config');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'bpf-root'), join(dir, 'bpf'));
    const lines = await nodeSetup(['init', `--config-dir=${cfgDir}`, '--skip-bpf-mount', '--skip-cgroup', '--skip-cni'], {});
    expect(lines[0]).to.equal(`bpf-root ${join(dir, 'bpf')}: not mounted here (bpf.autoMount.enabled is false: the host provides it)`);
    expect(readdirSync(dir)).to.deep.equal(['config']);
  });

  it('uninstall removes the configuration only when cni-uninstall is true', async () => {
    const conf = join(dir, 'net.d');
    const cfgDir = join(dir, 'config');
    mkdirSync(conf);
    mkdirSync(cfgDir);
    writeConflist(conf, { socket: '/s' }, false);
    expect(await nodeSetup(['uninstall', `--config-dir=${cfgDir}`, `--cni-conf-dir=${conf}`], {})).to.deep.equal(['cni-uninstall is false: the CNI configuration stays']);
    writeFileSync(join(cfgDir, 'cni-uninstall'), 'true');
    expect(await nodeSetup(['uninstall', `--config-dir=${cfgDir}`, `--cni-conf-dir=${conf}`], {})).to.deep.equal(['removed the CNI configuration']);
    expect(readdirSync(conf)).to.deep.equal([]);
    await nodeSetup(['reinstall'], {}).then(() => expect.fail('accepted'), (err: Error) => expect(err.message).to.contain('unknown step'));
  });
});

describe('agent node setup failure report', () => {
  it('records a Warning Event NodeSetupFailed on the Node, and says when it could not', async () => {
    const created: EventsV1Event[] = [];
    const sink = { create: async (e: EventsV1Event) => (created.push(e), e), patch: async () => undefined };
    expect(await reportSetupFailure('n1', 'node setup failed: bpf-root: cannot mount', {}, sink)).to.equal(true);
    expect(created).to.have.length(1);
    expect(created[0]).to.deep.include({ type: 'Warning', reason: 'NodeSetupFailed', note: 'node setup failed: bpf-root: cannot mount' });
    expect(created[0]!.regarding).to.deep.include({ kind: 'Node', name: 'n1' });
    const refusing = { create: async () => Promise.reject(new Error('forbidden')), patch: async () => undefined };
    expect(await reportSetupFailure('n1', 'x', {}, refusing)).to.equal(false);
    expect(await reportSetupFailure('n1', 'x', {})).to.equal(false);
  });
});

describe('agent NetworkUnavailable condition', () => {
  it('patches the Node status only when the condition changes, keeping the transition time for a new message', async () => {
    let conditions: Record<string, string>[] = [];
    const patches: unknown[] = [];
    const request = async (req: KubeRequest) => {
      if (req.method === 'GET') return { status: { conditions } };
      expect(req).to.deep.include({ method: 'PATCH', path: '/api/v1/nodes/n1/status', contentType: 'application/strategic-merge-patch+json' });
      patches.push(req.body);
      conditions = (req.body as { status: { conditions: Record<string, string>[] } }).status.conditions;
      return {};
    };
    expect(await setNetworkUnavailable(request, 'n1', 'node setup failed: bpf-root')).to.equal(true);
    expect(conditions[0]).to.deep.include({ type: NETWORK_UNAVAILABLE, status: 'True', reason: REASON_SETUP_FAILED, message: 'node setup failed: bpf-root' });
    const since = conditions[0]!.lastTransitionTime;
    expect(await setNetworkUnavailable(request, 'n1', 'node setup failed: bpf-root'), 'unchanged').to.equal(false);
    expect(await setNetworkUnavailable(request, 'n1', 'node setup failed: ipv4-node')).to.equal(true);
    expect(conditions[0]!.lastTransitionTime, 'still True since then').to.equal(since);
    expect(await setNetworkUnavailable(request, 'n1', undefined)).to.equal(true);
    expect(conditions[0]).to.deep.include({ status: 'False', reason: REASON_UP });
    expect(patches).to.have.length(3);
  });
});

describe('agent write-cni-conf-when-ready', () => {
  it('writes 05-cilium.conflist when started (after the caches synced), and logs what it cannot write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ciliate-cni-conf-'));
    const lines: string[] = [];
    const log = createLogger({ level: 'info', write: (l: string) => lines.push(l) });
    try {
      writeFileSync(join(dir, '10-bridge.conflist'), '{}');
      await cniConfWriter({ path: join(dir, CONFLIST_NAME), exclusive: true }, '/var/run/cilium/cilium.sock', log).start(new AbortController().signal);
      expect(readdirSync(dir).sort()).to.deep.equal([CONFLIST_NAME, `10-bridge.conflist${BACKUP_SUFFIX}`].sort());
      await cniConfWriter({ path: join(dir, 'cilium.conf'), exclusive: true }, '/s', log).start(new AbortController().signal);
      await cniConfWriter({ path: join(dir, 'absent', CONFLIST_NAME), exclusive: true }, '/s', log).start(new AbortController().signal);
      expect(lines.join('\n')).to.contain('CNI configuration written').and.to.contain('is not named 05-cilium.conflist').and.to.contain('cni.confPath');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
