// bench/peer's reading of ginkgo's JSON report: each spec of a suite counted once, as passed, failed,
// skipped (by the suite's rule, with its reason, or by the spec itself) or not run (or cut short);
// and the slice's focus selecting exactly its specs.
import { expect } from 'chai';
import { counts, formatSuiteResult, suiteResult, type GinkgoReport, type GinkgoSpecReport } from '../../bench/peer/report.ts';
import { literalPattern, selection, type PeerSuite } from '../../bench/peer/suites.ts';

const NEVER = '0001-01-01T00:00:00Z';
const AT = '2026-01-01T00:00:00Z';

/** A spec report: `[sig-x] Things` then the leaf text. */
function spec(leaf: string, State: string, extra: Partial<GinkgoSpecReport> = {}): GinkgoSpecReport {
  return { ContainerHierarchyTexts: ['[sig-x] Things'], LeafNodeText: leaf, LeafNodeType: 'It', State, StartTime: AT, EndTime: AT, RunTime: 2e9, ...extra };
}

const SUITE: PeerSuite = {
  name: 'services',
  focus: '\\[sig-x\\] Things ',
  exclude: '\\[Conformance\\]',
  skips: [{ pattern: 'SCTP', reason: 'no SCTP here' }],
  slice: ['[sig-x] Things should pass'],
};

const REPORT: GinkgoReport = {
  SuiteSucceeded: false,
  SpecialSuiteFailureReasons: null,
  SpecReports: [
    { ...spec('', 'passed'), LeafNodeType: 'SynchronizedBeforeSuite', ContainerHierarchyTexts: null },
    spec('should pass', 'passed'),
    spec('should fail', 'failed', { Failure: { Message: '\nHad 3 wrong results\nmore detail' } }),
    spec('should time out', 'timedout', { Failure: { Message: 'A suite timeout occurred' } }),
    spec('should skip itself', 'skipped', { Failure: { Message: 'Need at least 3 nodes' } }),
    spec('should speak SCTP', 'skipped', { EndTime: NEVER, RunTime: 0 }),
    spec('should come later', 'skipped', { EndTime: NEVER, RunTime: 0 }),
    spec('should be cut short', 'interrupted', { Failure: { Message: 'Interrupted by User' } }),
    spec('should conform [Conformance]', 'skipped', { EndTime: NEVER, RunTime: 0 }),
    { ...spec('other', 'passed'), ContainerHierarchyTexts: ['[sig-y] Other'] },
  ],
};

describe('bench/peer report', function () {
  it('counts each spec of the suite once, with why it failed or was skipped', function () {
    const r = suiteResult(REPORT, SUITE, 60);
    expect(counts(r)).to.deep.equal({ passed: 1, failed: 2, skipped: 2, 'not run': 2 });
    const by = Object.fromEntries(r.specs.map((s) => [s.name.replace('[sig-x] Things ', ''), s]));
    expect(by['should fail']).to.include({ outcome: 'failed', reason: 'Had 3 wrong results', seconds: 2 });
    expect(by['should skip itself']).to.include({ outcome: 'skipped', reason: 'Need at least 3 nodes' });
    expect(by['should speak SCTP']).to.include({ outcome: 'skipped', reason: 'no SCTP here' });
    expect(by['should come later']).to.include({ outcome: 'not run' });
    expect(by['should be cut short']).to.include({ outcome: 'not run', reason: 'Interrupted by User' });
    expect(by).not.to.have.property('should conform [Conformance]');
  });

  it('reports failures outside specs', function () {
    const report = { ...REPORT, SpecialSuiteFailureReasons: ['Interrupted by User'], SpecReports: [{ ...spec('', 'failed', { Failure: { Message: 'nodes not ready' } }), LeafNodeType: 'SynchronizedBeforeSuite' }] };
    expect(suiteResult(report, SUITE, 1).suiteFailures).to.deep.equal(['Interrupted by User', 'SynchronizedBeforeSuite: nodes not ready']);
  });

  it('a slice counts exactly its named specs, a missing one as not run', function () {
    const r = suiteResult(REPORT, SUITE, 5, ['[sig-x] Things should pass', '[sig-x] Things should vanish']);
    expect(r.specs.map((s) => [s.name, s.outcome])).to.deep.equal([
      ['[sig-x] Things should pass', 'passed'],
      ['[sig-x] Things should vanish', 'not run'],
    ]);
  });

  it('prints the summary, the failures with their reasons and the skips by reason', function () {
    const lines = formatSuiteResult(suiteResult(REPORT, SUITE, 125));
    expect(lines[0]).to.equal('services: 1 passed, 2 failed, 2 skipped, 2 not run (of 7) in 2m05s');
    expect(lines).to.include('      Had 3 wrong results');
    expect(lines).to.include('    1 x no SCTP here');
  });

  it("the slice's focus matches its specs' texts literally, after ginkgo's suite description", function () {
    const name = "[sig-network] Netpol should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]";
    const focus = new RegExp(selection({ ...SUITE, slice: [name] }, true).focus);
    expect(focus.test(`Kubernetes e2e suite ${name}`)).to.equal(true);
    expect(focus.test(`Kubernetes e2e suite ${name} too`)).to.equal(false);
    expect(new RegExp(literalPattern('a (b) [c] d.e')).test('a (b) [c] d.e')).to.equal(true);
  });

  it('a whole-suite run skips the excluded specs and the skip rules', function () {
    expect(selection(SUITE, false)).to.deep.equal({ focus: SUITE.focus, skip: '\\[Conformance\\]|SCTP' });
  });
});
