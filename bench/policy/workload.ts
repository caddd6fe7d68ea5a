/** The policy benches' shared workload: a deterministic PRNG and 10,000 pod identities' labels. */
import type { LabelSet } from '../../identity/labels.ts';
import { sanitizePodLabels } from '../../identity/pod-labels.ts';

/** Namespaces, apps per namespace and versions per app: 100 × 20 × 5 = 10,000 pod identities. */
export const NAMESPACES = 100;
export const APPS = 20;
export const VERSIONS = 5;

/** Deterministic PRNG so runs are comparable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** [0, n). */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The identity labels of a pod of app `app`, version `version`, in namespace `ns`. */
export function podIdentityLabels(ns: number, app: number, version: number): LabelSet {
  return sanitizePodLabels({
    namespace: `ns${ns}`, podLabels: { app: `app${app}`, version: `v${version}`, team: `t${app % 4}` },
    namespaceLabels: { env: ns % 2 === 0 ? 'prod' : 'dev' }, serviceAccount: `sa${app}`,
  });
}

/** Every pod identity of the workload, numbered from 256. */
export function podIdentities(): [number, LabelSet][] {
  const out: [number, LabelSet][] = [];
  let id = 256;
  for (const ns of range(NAMESPACES)) for (const app of range(APPS)) for (const v of range(VERSIONS)) out.push([id++, podIdentityLabels(ns, app, v)]);
  return out;
}
