// The Node.js flags the bundles run with (images/node-flags.ts) are the same wherever users run
// them: the chart's agent command (rendered by the real helm) and the local cluster's bundled mode.
import { expect } from 'chai';
import { join } from 'node:path';
import { ciliateProgram } from '../../cluster/components.ts';
import { builtToolchain } from '../../cluster/toolchain.ts';
import { NODE_FLAGS, nodeCommand } from '../../images/node-flags.ts';
import { findObject, renderChart } from '../support/chart-render.ts';

describe('Node.js flags of the bundles', function () {
  this.timeout(60_000);

  it("the agent's: a bounded young generation", () => {
    expect(NODE_FLAGS.agent).to.include('--max-semi-space-size=2');
    expect(nodeCommand('/usr/bin/node', 'agent', '/opt/ciliate/agent.mjs')).to.deep.equal(['/usr/bin/node', ...NODE_FLAGS.agent!, '/opt/ciliate/agent.mjs']);
    expect(nodeCommand('/usr/bin/node', 'operator', '/opt/ciliate/operator.mjs')).to.deep.equal(['/usr/bin/node', '/opt/ciliate/operator.mjs']);
  });

  it("are in the chart's agent command", async function () {
    const dir = await builtToolchain('cluster');
    if (!dir) this.skip();
    const r = await renderChart(join(dir!, 'helm'));
    expect(r.code, r.stderr).to.equal(0);
    const pod = (findObject(r.objects, 'DaemonSet', 'cilium')!.spec!.template as { spec: { containers: { command: string[] }[] } }).spec;
    expect(pod.containers[0]!.command).to.deep.equal(nodeCommand('/usr/bin/node', 'agent', '/opt/ciliate/agent.mjs'));
  });

  it("are in the local cluster's bundled agent (and not under tsx)", function () {
    let bundled: string[];
    try {
      bundled = ciliateProgram('agent/agent-main.ts', 'agent', true).argv;
    } catch {
      this.skip(); // build/bundle not built: npm run build:bundles
    }
    expect(bundled!.slice(1, -1)).to.deep.equal(NODE_FLAGS.agent);
    expect(ciliateProgram('agent/agent-main.ts', 'agent', false).argv).to.not.include(NODE_FLAGS.agent![0]);
  });
});
