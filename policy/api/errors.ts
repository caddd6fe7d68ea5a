/**
 * Collecting validation errors while walking raw JSON. Each error names the field path inside
 * the object (for example `specs[1].ingress[0].toPorts[0].ports[0].port`).
 */

/** One validation error. */
export interface ValidationError {
  /** Field path, e.g. `specs[1].ingress[0].toPorts[0].ports[0].port`. */
  readonly path: string;
  readonly message: string;
}

/** Formats an error as `path: message`. */
export function formatValidationError(e: ValidationError): string {
  return e.path === '' ? e.message : `${e.path}: ${e.message}`;
}

/** Accumulates errors and offers typed readers for `unknown` input. */
export class ErrorCollector {
  readonly errors: ValidationError[] = [];

  /** Records an error at `path`. */
  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  /** True when no error was recorded. */
  get ok(): boolean {
    return this.errors.length === 0;
  }

  /** Reads an optional object; records an error and returns undefined on a wrong type. */
  object(value: unknown, path: string): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.add(path, 'must be an object');
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /** Reads an optional array (missing = empty). */
  array(value: unknown, path: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.add(path, 'must be a list');
      return [];
    }
    return value;
  }

  /** Reads an optional string. */
  string(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      this.add(path, 'must be a string');
      return undefined;
    }
    return value;
  }

  /** Reads an optional boolean. */
  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.add(path, 'must be a boolean');
      return undefined;
    }
    return value;
  }

  /** Reads an optional list of strings. */
  strings(value: unknown, path: string): string[] {
    const out: string[] = [];
    this.array(value, path).forEach((v, i) => {
      const s = this.string(v, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}

/** Joins a path and a field name. */
export function join(path: string, field: string): string {
  return path === '' ? field : `${path}.${field}`;
}
