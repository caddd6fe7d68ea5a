/** charts/ciliate rendered by the real helm (`helm template`, no cluster), for the chart's tests. */
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runCommand, type CommandResult } from './cluster.ts';

/** The chart in this checkout. */
export const CHART = join(import.meta.dirname, '..', '..', 'charts', 'ciliate');

/** One rendered object, as far as the tests read it. */
export interface K8sObject { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string> }

/** `helm template` of the chart into kube-system with `set` values; its objects when it succeeded. */
export async function renderChart(helm: string, ...set: string[]): Promise<CommandResult & { objects: K8sObject[] }> {
  const r = await runCommand(helm, ['template', 'r', CHART, '-n', 'kube-system', '--kube-version', '1.33.0', ...set.flatMap((s) => ['--set', s])]);
  return { ...r, objects: r.code === 0 ? parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean) : [] };
}

/** The rendered object of `kind` named `name`. */
export function findObject(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}
