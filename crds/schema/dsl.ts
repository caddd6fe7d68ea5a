/**
 * A small vocabulary for writing Kubernetes structural OpenAPI v3 schemas in TypeScript.
 *
 * Every CRD in crds/ is written with these builders. The same schema objects generate both the
 * CRD YAML (crds/*.yaml) and the TypeScript types (crds/types.generated.ts), so the two can never
 * disagree. Builders return plain JSON-schema objects; `named()` tags a schema with a type name
 * that the type generator uses for an interface of its own.
 */

/** A CEL validation rule attached to a schema (x-kubernetes-validations). */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** The subset of JSONSchemaProps that Ciliate's CRDs use. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema;
  enum?: (string | number)[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  default?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

const typeNames = new WeakMap<Schema, string>();
const optionalFields = new WeakMap<Schema, Set<string>>();

/** Tags a schema with the TypeScript interface name the type generator should give it. */
export function named<S extends Schema>(name: string, schema: S): S {
  typeNames.set(schema, name);
  return schema;
}

/** The type name given to a schema with `named()`, if any. */
export function typeNameOf(schema: Schema): string | undefined {
  return typeNames.get(schema);
}

/** Common options every builder accepts. */
export type Opts = Omit<Schema, 'type' | 'properties' | 'items' | 'additionalProperties'>;

/** An object with the given properties; `required` lists the properties that must be present. */
export function obj(properties: Record<string, Schema>, opts: Opts = {}): Schema {
  return { type: 'object', ...opts, properties };
}

/** A string. */
export function str(opts: Opts = {}): Schema {
  return { type: 'string', ...opts };
}

/** A string restricted to the given values. */
export function oneOfStrings(values: readonly string[], opts: Opts = {}): Schema {
  return { type: 'string', ...opts, enum: [...values] };
}

/** A 32- or 64-bit integer. */
export function int(opts: Opts & { bits?: 32 | 64 } = {}): Schema {
  const { bits, ...rest } = opts;
  return { type: 'integer', ...(bits ? { format: bits === 32 ? 'int32' : 'int64' } : {}), ...rest };
}

/** A boolean. */
export function bool(opts: Opts = {}): Schema {
  return { type: 'boolean', ...opts };
}

/** A list of items. */
export function arr(items: Schema, opts: Opts = {}): Schema {
  return { type: 'array', ...opts, items };
}

/** A map from string keys to values of one schema. */
export function map(values: Schema, opts: Opts = {}): Schema {
  return { type: 'object', ...opts, additionalProperties: values };
}

/** A value that may be an integer or a string (x-kubernetes-int-or-string). */
export function intOrString(opts: Opts = {}): Schema {
  return { 'x-kubernetes-int-or-string': true, ...opts };
}

/** An object whose contents are kept as they are (x-kubernetes-preserve-unknown-fields). */
export function anyObject(opts: Opts = {}): Schema {
  return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...opts };
}

/** Adds CEL rules to a schema, keeping its name. */
export function withRules<S extends Schema>(schema: S, ...rules: CelRule[]): S {
  schema['x-kubernetes-validations'] = [...(schema['x-kubernetes-validations'] ?? []), ...rules];
  return schema;
}

/** "Exactly one of these fields is set", as a structural oneOf of required lists. */
export function exactlyOneOf(...fields: string[]): Schema[] {
  return fields.map((f) => ({ required: [f] }));
}

/** Marks fields as optional in the generated TypeScript type even though the schema requires them. */
export function optionalInTypes<S extends Schema>(schema: S, ...fields: string[]): S {
  optionalFields.set(schema, new Set(fields));
  return schema;
}

/** Fields `optionalInTypes()` marked. */
export function typeOptionalFields(schema: Schema): Set<string> {
  return optionalFields.get(schema) ?? new Set();
}
