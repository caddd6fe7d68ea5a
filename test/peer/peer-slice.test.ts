// Upstream's own tests against Ciliate, in CI: the pinned e2e.test runs a slice of fast `[sig-network]
// Netpol` specs (deny-all ingress, an allow from a pod and namespace selector, an egress rule, a port
// rule) and two Services conformance specs (ClusterIP and NodePort) on the shared cluster of real
// nodes, and each must pass. The whole suites run on demand: scripts/peer-suites.sh.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtToolchain, ensureToolchain } from '../../cluster/toolchain.ts';
import { runE2e } from '../../bench/peer/e2e.ts';
import { suiteResult, type SuiteResult } from '../../bench/peer/report.ts';
import { selection, SUITES } from '../../bench/peer/suites.ts';
import { testRealNodesCluster } from '../support/cluster.ts';
import { buildsGoImages } from '../support/node-images.ts';

describe('upstream peer suites: the CI slice of the pinned e2e.test', function () {
  this.timeout(60_000);
  const results = new Map<string, SuiteResult>();
  let work = '';
  let logs = '';

  before(async function () {
    if (!buildsGoImages() && !(await builtToolchain('e2e'))) {
      console.log('      skipped: e2e.test is not built yet (minutes: run `bash cluster/toolchain/build.sh e2e` or set CILIATE_BUILD_IMAGES=1)');
      this.skip();
    }
    this.timeout(30 * 60_000); // a first build of e2e.test takes minutes; the slice itself about three
    const e2eBin = await ensureToolchain(() => undefined, 'e2e');
    const c = await testRealNodesCluster();
    work = mkdtempSync(join(tmpdir(), 'ciliate-peer-'));
    for (const suite of SUITES) {
      const run = await runE2e({ e2eBin, kubeconfig: c.kubeconfig, kubectl: join(c.binDir, 'kubectl'), selection: selection(suite, true), workDir: join(work, suite.name) });
      if (!run.report) throw new Error(`e2e.test exited ${run.exitCode} without a report:\n${run.logPath}`);
      results.set(suite.name, suiteResult(run.report, suite, run.seconds, suite.slice));
      logs += `\n  ${suite.name}: ${run.logPath}`;
    }
  });

  after(function () {
    const failed = [...results.values()].some((r) => r.specs.some((s) => s.outcome !== 'passed') || r.suiteFailures.length);
    if (failed) console.log(`      e2e.test logs kept:${logs}`);
    else if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const suite of SUITES) {
    for (const name of suite.slice) {
      it(`${suite.name}: ${name.replace(/^\[sig-network\] (Netpol NetworkPolicy between server and client |Services )/, '')}`, function () {
        const r = results.get(suite.name)!;
        const spec = r.specs.find((s) => s.name === name);
        expect(spec?.outcome, [spec?.reason, ...r.suiteFailures].filter(Boolean).join('; ')).to.equal('passed');
      });
    }
  }
});
