/** Schemas shared by several cilium.io CRDs: label selectors, conditions, CIDRs and addresses. */
import { arr, map, named, obj, oneOfStrings, str, withRules, int, type Schema } from './dsl.ts';

/** A label key or value as Kubernetes label selectors accept them. */
const labelValue = str({ maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' });

/** One matchExpressions requirement of a label selector. */
export const labelSelectorRequirement = named(
  'LabelSelectorRequirement',
  obj(
    {
      key: str({ description: 'The label key the selector applies to, optionally with a source prefix (k8s:, reserved:, any:).' }),
      operator: oneOfStrings(['In', 'NotIn', 'Exists', 'DoesNotExist'], {
        description: 'How the key relates to the values.',
      }),
      values: arr(str(), { description: 'Values for In and NotIn; empty for Exists and DoesNotExist.' }),
    },
    {
      required: ['key', 'operator'],
      // Structural rather than CEL: selectors nest inside unbounded lists, where CEL's cost budget runs out.
      oneOf: [
        { properties: { operator: { enum: ['In', 'NotIn'] }, values: { minItems: 1 } }, required: ['values'] },
        { properties: { operator: { enum: ['Exists', 'DoesNotExist'] }, values: { maxItems: 0 } } },
      ],
    },
  ),
);

/** Builds a Kubernetes label selector schema with the given type name. */
export function labelSelector(name: string, description: string): Schema {
  return named(
    name,
    obj(
      {
        matchLabels: map(labelValue, { description: 'Labels that must all match; keys may carry a source prefix.' }),
        matchExpressions: arr(labelSelectorRequirement, { description: 'Requirements that must all hold.' }),
      },
      { description, 'x-kubernetes-map-type': 'atomic' },
    ),
  );
}

/** Selects endpoints (pods) by their labels. */
export const endpointSelector = labelSelector('EndpointSelector', 'Selects endpoints by their source-prefixed labels.');

/** Selects Kubernetes objects by their labels. */
export const genericLabelSelector = labelSelector('LabelSelector', 'A Kubernetes label selector.');

/** A status condition as Kubernetes API conventions define it. */
export const condition = named(
  'Condition',
  obj(
    {
      type: str({ maxLength: 316, description: 'The condition type, e.g. Valid.' }),
      status: oneOfStrings(['True', 'False', 'Unknown']),
      observedGeneration: int({ bits: 64, minimum: 0 }),
      lastTransitionTime: str({ format: 'date-time' }),
      reason: str({ maxLength: 1024 }),
      message: str({ maxLength: 32768 }),
    },
    { required: ['type', 'status'] },
  ),
);

/** A list of status conditions. */
export const conditions = arr(condition, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

/** An IPv4 or IPv6 prefix in CIDR notation (checked by the apiserver's `cidr` format, at no CEL cost). */
export function cidrString(description: string): Schema {
  return str({ description, format: 'cidr', maxLength: 43 });
}

/** An IPv4 or IPv6 address. */
export function ipString(description: string): Schema {
  return withRules(str({ description, maxLength: 39 }), { rule: 'isIP(self)', message: 'must be an IPv4 or IPv6 address' });
}

/** A reference to a Secret. */
export const secretRef = named(
  'Secret',
  obj({ name: str({ description: 'Name of the secret.' }), namespace: str({ description: 'Namespace of the secret.' }) }, { required: ['name'] }),
);
