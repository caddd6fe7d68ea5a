// envoy-http-upstream-linger-timeout on the shared two-node cluster of real (kubelet) nodes: a client
// pod whose connections to an L7-policed server (the server's node's ingress proxy) each end with a
// reset (SO_LINGER 0) and are made again from the same source port a moment later. With the setting
// at 0 on the server's node (its cilium-config, the agent restarted; the running proxy takes the
// setting from the new agent) every new connection is answered 200 and the proxy leaves no
// TIME_WAIT on the client's address and port in the node. The default (-1) is run first: the proxy's
// TIME_WAITs are there (its answers are printed: Linux reuses a TIME_WAIT with TCP timestamps, so
// they are 200 too). The node's cilium-config and the proxy's setting are put back afterwards.
import { expect } from 'chai';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentConfigDir } from '../../cluster/agent-launch.ts';
import type { RunningCluster } from '../../cluster/cluster.ts';
import type { PodEndpoint } from '../../cluster/pods.ts';
import { UPSTREAM_LINGER_SETTING } from '../../envoy/http/upstream-close.ts';
import { runCommand, testRealNodesCluster } from '../support/cluster.ts';
import { l7EchoPods } from '../support/l7-echo-pods.ts';
import { agentPid, killAgent, lastProxyLog, proxyPid } from '../support/node-processes.ts';

const NS = `l7-linger-${Math.random().toString(36).slice(2, 6)}`;
/** Source ports the client uses, below its ephemeral range. */
const PORTS = 8;

/**
 * Run in the client pod's network namespace: from each of `count` source ports (from `base`), a GET on
 * a new connection, reset once answered, then 200 ms later another GET from the same port. Prints
 * one JSON line: the first and the second answers (status code or error).
 */
const clientScript = (ip: string, base: number, count: number) => `
  const net = require('node:net');
  const get = (port) => new Promise((resolve) => {
    const s = net.connect({ host: '${ip}', port: 80, localPort: port });
    let got = '';
    const done = (r) => { clearTimeout(t); s.resetAndDestroy(); resolve(r); };
    const t = setTimeout(() => done('timeout'), 2000);
    s.on('data', (d) => {
      got += d;
      const head = got.indexOf('\\r\\n\\r\\n');
      const len = /content-length: *(\\d+)/i.exec(got);
      if (head >= 0 && (!len || got.length >= head + 4 + Number(len[1]))) done(got.slice(9, 12));
    });
    s.on('error', (e) => done(e.code || e.message));
    s.write('GET /echo?msg=linger HTTP/1.1\\r\\nHost: echo\\r\\n\\r\\n');
  });
  (async () => {
    const out = { first: [], second: [] };
    for (let i = 0; i < ${count}; i++) {
      out.first.push(await get(${base} + i));
      await new Promise((r) => setTimeout(r, 200));
      out.second.push(await get(${base} + i));
    }
    console.log(JSON.stringify(out));
  })();`;

describe('envoy-http-upstream-linger-timeout on real pods: a client reusing its port after a reset', function () {
  this.timeout(600_000);
  let c: RunningCluster;
  let echo: PodEndpoint;
  let client: PodEndpoint;
  let configured = false;
  const kubectl = (args: string[], input?: string) => runCommand(join(c.binDir, 'kubectl'), args, { KUBECONFIG: c.kubeconfig }, input);
  const settingFile = () => join(agentConfigDir(c.config.nodes!.find((n) => n.name === echo.node)!), UPSTREAM_LINGER_SETTING);

  /**
   * The server node's agent restarted (it reads its cilium-config at start); resolves once the
   * running proxy applied the new agent's setting, which must be `linger`.
   */
  const restartServerAgent = async (linger: number) => {
    const since = new Date().toISOString();
    expect(await killAgent(c, echo.node), 'the supervisor restarted the agent').to.equal(true);
    let applied = lastProxyLog(c, echo.node, 'agent settings applied');
    for (let i = 0; i < 150 && !((applied.ts ?? '') > since); i++) {
      await new Promise((r) => setTimeout(r, 200));
      applied = lastProxyLog(c, echo.node, 'agent settings applied');
    }
    expect(applied, 'the new agent\'s setting, applied by the running proxy').to.deep.include({ upstreamLingerTimeout: linger, pid: proxyPid(c, echo.node) });
    await enforcing();
  };

  /** Waits until the proxy enforces the policy (a PUT denied with its 403, a GET forwarded). */
  const enforcing = async () => {
    const curl = (method: string) => runCommand('nsenter', [`--net=${client.netns}`, 'curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', '-X', method, `http://${echo.ip}/echo?msg=x`]);
    let answers = '';
    for (let i = 0; i < 60 && answers !== '403 200'; i++) {
      answers = `${(await curl('PUT')).stdout} ${(await curl('GET')).stdout}`;
      if (answers !== '403 200') await new Promise((r) => setTimeout(r, 500));
    }
    expect(answers, 'PUT denied by the proxy, GET forwarded').to.equal('403 200');
  };

  /** The client's run from `base`, and the TIME_WAITs left on the server's node (the proxy's) on the client's ports. */
  const run = async (base: number): Promise<{ first: string[]; second: string[]; timeWaits: number }> => {
    const r = await runCommand('nsenter', [`--net=${client.netns}`, process.execPath, '-e', clientScript(echo.ip, base, PORTS)]);
    expect(r.code, r.stderr).to.equal(0);
    const ss = await runCommand('nsenter', [`--net=/proc/${agentPid(c, echo.node).pid}/ns/net`, 'ss', '-Htan', 'state', 'time-wait',
      'src', client.ip, 'and', 'sport', '>=', `:${base}`, 'and', 'sport', '<', `:${base + PORTS}`]);
    return { ...(JSON.parse(r.stdout) as { first: string[]; second: string[] }), timeWaits: ss.stdout.split('\n').filter(Boolean).length };
  };

  before(async () => {
    c = await testRealNodesCluster();
    ({ echo, client } = await l7EchoPods(c, NS));
  });

  after(async () => {
    if (!c) return;
    if (configured) {
      rmSync(settingFile(), { force: true });
      await restartServerAgent(-1);
    }
    await kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('-1 (default): the proxy\'s TIME_WAITs in the node; 0: none, and every connection made again from the same port is answered 200', async () => {
    await enforcing();
    const base = 21000 + Math.floor(Math.random() * 8000);
    const before = await run(base);
    console.log(`      -1: first ${before.first.join(' ')}; again from the same port ${before.second.join(' ')}; the proxy's TIME_WAITs ${before.timeWaits}`);
    expect(before.first.every((a) => a === '200'), before.first.join(' ')).to.equal(true);
    expect(before.timeWaits, 'the proxy closed its upstream connections itself').to.be.greaterThan(0);

    // The proxy keeps running (and its connections with it): the restarted agent gives it the setting.
    const proxy = proxyPid(c, echo.node);
    writeFileSync(settingFile(), '0');
    configured = true;
    await restartServerAgent(0);
    expect(proxyPid(c, echo.node), 'the same proxy process').to.equal(proxy);
    const after = await run(base + PORTS);
    console.log(`      0: first ${after.first.join(' ')}; again from the same port ${after.second.join(' ')}; the proxy's TIME_WAITs ${after.timeWaits}`);
    expect([...after.first, ...after.second].filter((a) => a !== '200'), 'answers other than 200').to.deep.equal([]);
    expect(after.timeWaits, 'no TIME_WAIT on the client\'s ports in the node').to.equal(0);
  });
});
