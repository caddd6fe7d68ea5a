/**
 * Reading ginkgo's JSON report (`--ginkgo.json-report`) of an e2e.test run into per-suite results:
 * which of a suite's specs passed, failed, were skipped (by the suite's own rules, with their
 * reasons, or by the spec itself at run time) or did not run (or not to its end: an interrupted run),
 * and printing them.
 */
import { readFileSync } from 'node:fs';
import type { PeerSuite } from './suites.ts';

/** The parts of one ginkgo spec report read here. */
export interface GinkgoSpecReport {
  ContainerHierarchyTexts: string[] | null;
  LeafNodeText: string;
  LeafNodeType: string;
  State: string;
  /** Zero time (year 1) when the spec never started: filtered out, or not reached. */
  StartTime?: string;
  EndTime?: string;
  /** Nanoseconds. */
  RunTime: number;
  Failure?: { Message?: string };
}

/** The parts of one ginkgo suite report read here. */
export interface GinkgoReport {
  SuiteSucceeded: boolean;
  SpecialSuiteFailureReasons: string[] | null;
  SpecReports: GinkgoSpecReport[] | null;
}

/** What became of one spec. */
export type SpecOutcome = 'passed' | 'failed' | 'skipped' | 'not run';

/** One spec of a suite and what became of it. */
export interface SpecResult {
  name: string;
  outcome: SpecOutcome;
  seconds: number;
  /** Why it failed or was skipped (first line of ginkgo's message, or the skip rule's reason). */
  reason?: string;
}

/** A suite's results from one run. */
export interface SuiteResult {
  suite: PeerSuite['name'];
  specs: SpecResult[];
  /** Failures outside any spec (suite set-up, timeouts, interruption). */
  suiteFailures: string[];
  seconds: number;
}

/** Reads the report file ginkgo wrote (one report per suite binary; e2e.test has one). */
export function readGinkgoReport(path: string): GinkgoReport {
  const reports = JSON.parse(readFileSync(path, 'utf8')) as GinkgoReport[];
  if (!Array.isArray(reports) || reports.length !== 1) throw new Error(`${path}: expected one suite report, found ${Array.isArray(reports) ? reports.length : 'none'}`);
  return reports[0]!;
}

/** The spec's full text as ginkgo matches focus and skip against it (after the suite description). */
export function specText(r: GinkgoSpecReport): string {
  return [...(r.ContainerHierarchyTexts ?? []), r.LeafNodeText].filter(Boolean).join(' ');
}

const FAILED_STATES = new Set(['failed', 'panicked', 'timedout', 'aborted']);
const firstLine = (s: string | undefined) => s?.split('\n').find((l) => l.trim())?.trim();
const started = (t: string | undefined) => t !== undefined && !t.startsWith('0001-');

/**
 * The results of `suite`'s specs in `report`: every `It` whose text matches the suite's focus and
 * not its exclusion, or those named in `names` when given (as a slice run selects them).
 */
export function suiteResult(report: GinkgoReport, suite: PeerSuite, seconds: number, names?: readonly string[]): SuiteResult {
  const focus = new RegExp(suite.focus);
  const exclude = suite.exclude ? new RegExp(suite.exclude) : undefined;
  const skips = suite.skips.map((s) => ({ re: new RegExp(s.pattern), reason: s.reason }));
  const specs: SpecResult[] = [];
  const suiteFailures: string[] = [...(report.SpecialSuiteFailureReasons ?? [])];
  for (const r of report.SpecReports ?? []) {
    if (r.LeafNodeType !== 'It') {
      if (FAILED_STATES.has(r.State)) suiteFailures.push(`${r.LeafNodeType}: ${firstLine(r.Failure?.Message) ?? r.State}`);
      continue;
    }
    const name = specText(r);
    if (names ? !names.includes(name) : !focus.test(name) || exclude?.test(name)) continue;
    const base = { name, seconds: r.RunTime / 1e9 };
    if (r.State === 'passed') specs.push({ ...base, outcome: 'passed' });
    else if (r.State === 'interrupted') specs.push({ ...base, outcome: 'not run', reason: firstLine(r.Failure?.Message) ?? r.State });
    else if (FAILED_STATES.has(r.State)) specs.push({ ...base, outcome: 'failed', reason: firstLine(r.Failure?.Message) ?? r.State });
    else if (r.State === 'skipped' && started(r.EndTime)) specs.push({ ...base, outcome: 'skipped', reason: firstLine(r.Failure?.Message) ?? 'skipped by the spec' });
    else {
      const rule = names ? undefined : skips.find((s) => s.re.test(name));
      specs.push(rule ? { ...base, outcome: 'skipped', reason: rule.reason } : { ...base, outcome: 'not run' });
    }
  }
  for (const missing of names?.filter((n) => !specs.some((s) => s.name === n)) ?? []) {
    specs.push({ name: missing, outcome: 'not run', seconds: 0, reason: 'no such spec in this e2e.test' });
  }
  specs.sort((a, b) => a.name.localeCompare(b.name));
  return { suite: suite.name, specs, suiteFailures, seconds };
}

/** How many specs had each outcome. */
export function counts(r: SuiteResult): Record<SpecOutcome, number> {
  const c: Record<SpecOutcome, number> = { passed: 0, failed: 0, skipped: 0, 'not run': 0 };
  for (const s of r.specs) c[s.outcome]++;
  return c;
}

/** Minutes and seconds, e.g. "12m05s". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The one-line summary of a suite's run. */
export function summaryLine(r: SuiteResult): string {
  const c = counts(r);
  const notRun = c['not run'] ? `, ${c['not run']} not run` : '';
  return `${r.suite}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped${notRun} (of ${r.specs.length}) in ${duration(r.seconds)}`;
}

/** The summary line, then the failing specs with why, the skipped ones grouped by reason, and what did not run. */
export function formatSuiteResult(r: SuiteResult): string[] {
  const lines = [summaryLine(r)];
  for (const f of r.suiteFailures) lines.push(`  suite failure: ${f}`);
  const failed = r.specs.filter((s) => s.outcome === 'failed');
  if (failed.length) lines.push('  failed:');
  for (const s of failed) lines.push(`    ${s.name} (${duration(s.seconds)})`, `      ${s.reason}`);
  const byReason = new Map<string, string[]>();
  for (const s of r.specs.filter((x) => x.outcome === 'skipped')) byReason.set(s.reason!, [...(byReason.get(s.reason!) ?? []), s.name]);
  if (byReason.size) lines.push('  skipped:');
  for (const [reason, names] of byReason) lines.push(`    ${names.length} x ${reason}`, ...names.map((n) => `      ${n}`));
  const notRun = r.specs.filter((s) => s.outcome === 'not run');
  if (notRun.length) lines.push(`  not run (the run ended first): ${notRun.length}`);
  for (const s of notRun.filter((x) => x.reason)) lines.push(`    ${s.name}: ${s.reason}`);
  return lines;
}
