/**
 * Running the pinned upstream e2e.test against a cluster: one run per suite selection, its verbose
 * output in a log file, a progress line per finished spec, and ginkgo's JSON report read back.
 * With more than one process, ginkgo's own CLI runs e2e.test in parallel.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readGinkgoReport, type GinkgoReport } from './report.ts';
import type { Selection } from './suites.ts';

/** How to run e2e.test once. */
export interface E2eRunOptions {
  /** The folder with e2e.test and ginkgo (cluster/toolchain/build.sh e2e). */
  e2eBin: string;
  kubeconfig: string;
  /** The cluster's kubectl of the pinned version (the specs exec into pods with it). */
  kubectl: string;
  selection: Selection;
  /** Where the log and the JSON report go (created if missing). */
  workDir: string;
  /** ginkgo processes (default 1: e2e.test runs alone). */
  processes?: number;
  /** ginkgo's suite timeout (Go duration; default 6h, past which ginkgo interrupts the run). */
  timeout?: string;
  /** Called with a line per finished spec ("passed 27.8s <name>"). */
  onSpec?: (line: string) => void;
  /** Ended (SIGINT, so ginkgo still writes its report) when aborted. */
  signal?: AbortSignal;
}

/** What one run left: ginkgo's report (undefined if it wrote none), the log file and exit code. */
export interface E2eRun {
  report?: GinkgoReport;
  logPath: string;
  reportPath: string;
  exitCode: number;
  seconds: number;
}

/** The e2e framework's flags: this cluster, the local provider, its kubectl. */
function frameworkFlags(o: E2eRunOptions): string[] {
  return [`--kubeconfig=${o.kubeconfig}`, '--provider=local', `--kubectl-path=${o.kubectl}`];
}

/** ginkgo's flags (without the `--ginkgo.` prefix e2e.test wants when run alone). */
function ginkgoFlags(o: E2eRunOptions, reportPath: string): string[] {
  return [
    `focus=${o.selection.focus}`, ...(o.selection.skip ? [`skip=${o.selection.skip}`] : []),
    `json-report=${reportPath}`, `timeout=${o.timeout ?? '6h'}`, 'no-color', 'silence-skips', 'v',
  ];
}

/** The command line of a run: e2e.test alone, or ginkgo running it in `processes` processes. */
export function e2eCommand(o: E2eRunOptions, reportPath: string): { cmd: string; args: string[] } {
  const e2e = join(o.e2eBin, 'e2e.test');
  const processes = o.processes ?? 1;
  if (processes <= 1) return { cmd: e2e, args: [...frameworkFlags(o), ...ginkgoFlags(o, reportPath).map((f) => `--ginkgo.${f}`)] };
  return { cmd: join(o.e2eBin, 'ginkgo'), args: [`--procs=${processes}`, ...ginkgoFlags(o, reportPath).map((f) => `--${f}`), e2e, '--', ...frameworkFlags(o)] };
}

/**
 * Watches ginkgo's verbose output: a spec's header (its text and labels) follows a dashed rule, and
 * its outcome line ("• [12.3 seconds]", "• [FAILED] [..]", "S [SKIPPED] [..]") ends it.
 */
function specProgress(onSpec: (line: string) => void): (line: string) => void {
  let afterRule = false;
  let header = '';
  return (line) => {
    if (/^-{20,}$/.test(line)) {
      afterRule = true;
      return;
    }
    if (afterRule) header = line.replace(/ \[[^\]]*\]$/, ''); // the trailing label list
    afterRule = false;
    const m = /^[•S] (?:\[([A-Z]+)\] )?\[([\d.]+) seconds\]$/.exec(line);
    if (m && header.startsWith('[sig-')) onSpec(`${(m[1] ?? 'passed').toLowerCase()} ${Number(m[2]).toFixed(1)}s ${header}`);
  };
}

/** Runs e2e.test once; resolves when it has ended, whatever its outcome. */
export async function runE2e(o: E2eRunOptions): Promise<E2eRun> {
  mkdirSync(o.workDir, { recursive: true });
  const logPath = join(o.workDir, 'e2e.log');
  const reportPath = join(o.workDir, 'report.json');
  const { cmd, args } = e2eCommand(o, reportPath);
  const log = createWriteStream(logPath);
  log.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const start = Date.now();
  // Its own process group: a terminal's Ctrl-C reaches it once, through `signal`, not twice (a second
  // interrupt makes ginkgo skip the specs' clean-up).
  const child = spawn(cmd, args, { cwd: o.workDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: o.kubeconfig } });
  const progress = specProgress(o.onSpec ?? (() => undefined));
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    log.write(d);
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) progress(l);
  });
  child.stderr.on('data', (d) => log.write(d));
  const interrupt = () => child.kill('SIGINT');
  o.signal?.addEventListener('abort', interrupt, { once: true });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  }).finally(() => o.signal?.removeEventListener('abort', interrupt));
  await new Promise<void>((r) => log.end(r));
  const report = existsSync(reportPath) ? readGinkgoReport(reportPath) : undefined;
  return { report, logPath, reportPath, exitCode, seconds: (Date.now() - start) / 1000 };
}
