/**
 * Parsing CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects (`spec` and/or `specs`)
 * from raw apiserver JSON into internal rules, collecting every validation error.
 */
import { DEFAULT_CLUSTER_NAME } from '../../identity/pod-labels.ts';
import { ErrorCollector, join, type ValidationError } from './errors.ts';
import type { PolicyKind, PolicyRule } from './model.ts';
import { parseRule } from './parse-rule.ts';

/** Options shared by all policy parsers. */
export interface ParseOptions {
  /** This cluster's name, used by the `cluster` entity (default `default`). */
  readonly clusterName?: string;
}

/** The outcome of parsing one policy object. */
export interface PolicyParseResult {
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
  /** Rules, empty when invalid (an invalid object contributes nothing). */
  readonly rules: readonly PolicyRule[];
  readonly errors: readonly ValidationError[];
  readonly warnings: readonly string[];
}

/** Reads kind/name/namespace/uid from an object's metadata. */
export function readMetadata(raw: unknown, errs: ErrorCollector): { name: string; namespace?: string; uid?: string } {
  const obj = errs.object(raw, '') ?? {};
  const meta = errs.object(obj.metadata, 'metadata') ?? {};
  const name = errs.string(meta.name, 'metadata.name') ?? '';
  const namespace = errs.string(meta.namespace, 'metadata.namespace');
  const uid = errs.string(meta.uid, 'metadata.uid');
  if (name === '') errs.add('metadata.name', 'required');
  return { name, ...(namespace !== undefined && { namespace }), ...(uid !== undefined && { uid }) };
}

/** Parses a CNP or CCNP (its `kind` field decides which). */
export function parseCiliumPolicy(raw: unknown, options: ParseOptions = {}): PolicyParseResult {
  const errs = new ErrorCollector();
  const warnings: string[] = [];
  const obj = errs.object(raw, '') ?? {};
  const kind: PolicyKind = obj.kind === 'CiliumClusterwideNetworkPolicy' ? 'CiliumClusterwideNetworkPolicy' : 'CiliumNetworkPolicy';
  if (obj.kind !== undefined && obj.kind !== kind) errs.add('kind', `unexpected kind ${JSON.stringify(obj.kind)}`);
  const meta = readMetadata(raw, errs);
  const namespace = kind === 'CiliumNetworkPolicy' ? (meta.namespace ?? 'default') : undefined;
  const rules: PolicyRule[] = [];
  const ctx = {
    kind, ...(namespace !== undefined && { namespace }), name: meta.name,
    clusterName: options.clusterName ?? DEFAULT_CLUSTER_NAME, warn: (m: string) => warnings.push(m),
  };
  const hasSpec = obj.spec !== undefined && obj.spec !== null;
  const specs = errs.array(obj.specs, 'specs');
  if (!hasSpec && specs.length === 0) errs.add('spec', 'empty policy: neither spec nor specs is set');
  let index = 0;
  if (hasSpec) {
    const r = parseRule(obj.spec, 'spec', { ...ctx, ruleIndex: index++ }, errs);
    if (r) rules.push(r);
  }
  specs.forEach((s, i) => {
    const r = parseRule(s, `${join('', 'specs')}[${i}]`, { ...ctx, ruleIndex: index++ }, errs);
    if (r) rules.push(r);
  });
  return {
    kind, ...(namespace !== undefined && { namespace }), name: meta.name, ...(meta.uid !== undefined && { uid: meta.uid }),
    rules: errs.ok ? rules : [], errors: errs.errors, warnings,
  };
}
