/**
 * The last valid version of every policy, kept in the agent's state folder (one file per policy), so
 * that an invalid update still leaves the previous version enforced after an agent restart: the
 * restarted agent finds the invalid object in the cluster and falls back to the version it last
 * enforced, as long as it is the same object (same uid).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parsePolicy } from '../policy/api/parse-policy.ts';
import type { PolicyParseResult } from '../policy/api/parse-cilium-policy.ts';
import { formatValidationError } from '../policy/api/errors.ts';
import type { PolicyKind } from '../policy/api/model.ts';
import type { Logger } from '../runtime/logger.ts';

/** The folder under the state folder. */
export const VALID_POLICIES_DIR = 'valid-policies';

/** Persists and recalls the last valid version of each policy. */
export class ValidPolicies {
  readonly #dir: string;
  /** The resourceVersion this agent last wrote per file, so a resync of an unchanged policy writes nothing. */
  readonly #written = new Map<string, string>();

  constructor(stateDir: string, private readonly clusterName: string, private readonly log: Logger) {
    this.#dir = join(stateDir, VALID_POLICIES_DIR);
    mkdirSync(this.#dir, { recursive: true });
  }

  #file(kind: PolicyKind, namespace: string | undefined, name: string): string {
    return join(this.#dir, encodeURIComponent(`${kind}_${namespace ?? ''}_${name}`) + '.json');
  }

  /**
   * The version of `obj` to enforce: `obj` itself when valid (then remembered), else the last valid
   * version of the same object (logged), else undefined (nothing to enforce for it).
   */
  resolve(kind: PolicyKind, obj: KubernetesObject): PolicyParseResult | undefined {
    const parsed = parsePolicy(obj, { clusterName: this.clusterName });
    const { namespace, name = '', uid } = obj.metadata ?? {};
    const file = this.#file(kind, namespace, name);
    const where = `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
    if (parsed.errors.length === 0) {
      const version = obj.metadata?.resourceVersion;
      if (version !== undefined && this.#written.get(file) === version) return parsed;
      try {
        writeFileSync(`${file}.tmp`, JSON.stringify(obj));
        renameSync(`${file}.tmp`, file);
        if (version !== undefined) this.#written.set(file, version);
      } catch (err) {
        this.log.warn('could not persist the valid version of a policy', { policy: where, err: (err as Error).message });
      }
      return parsed;
    }
    const errors = parsed.errors.map(formatValidationError);
    const last = this.#read(file);
    if (!last || last.metadata?.uid !== uid) {
      this.log.warn('invalid policy not applied; no valid version of it is known', { policy: where, errors });
      return undefined;
    }
    this.log.warn('invalid policy not applied; its previous version stays enforced', { policy: where, errors, resourceVersion: last.metadata?.resourceVersion });
    const previous = parsePolicy(last, { clusterName: this.clusterName });
    return previous.errors.length === 0 ? previous : undefined;
  }

  /** Forgets a deleted policy. */
  forget(kind: PolicyKind, namespace: string | undefined, name: string): void {
    const file = this.#file(kind, namespace, name);
    this.#written.delete(file);
    rmSync(file, { force: true });
  }

  #read(file: string): KubernetesObject | undefined {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as KubernetesObject;
    } catch {
      return undefined;
    }
  }
}
