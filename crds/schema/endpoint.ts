/** CiliumEndpoint: a status-only object the agent writes for every endpoint it manages. */
import { arr, bool, int, map, named, obj, oneOfStrings, str } from './dsl.ts';

/** Endpoint lifecycle states. */
export const ENDPOINT_STATES = [
  'creating', 'waiting-for-identity', 'not-ready', 'waiting-to-regenerate', 'regenerating', 'restoring', 'ready',
  'disconnecting', 'disconnected', 'invalid',
] as const;

const identityTuple = named(
  'IdentityTuple',
  obj({
    identity: int({ bits: 64 }),
    'identity-labels': map(str()),
    'dest-port': int(),
    protocol: int(),
  }),
);

const policyDirection = named(
  'EndpointPolicyDirection',
  obj(
    {
      enforcing: bool(),
      state: oneOfStrings(['enforcing', 'non-enforcing', 'disabled']),
      allowed: arr(identityTuple),
      denied: arr(identityTuple),
      adding: arr(identityTuple, { description: 'Deprecated.' }),
      removing: arr(identityTuple, { description: 'Deprecated.' }),
    },
    { required: ['enforcing'] },
  ),
);

/** The status of a CiliumEndpoint. */
export const endpointStatus = named(
  'EndpointStatus',
  obj({
    id: int({ bits: 64, description: 'The agent-local endpoint ID.' }),
    identity: named('EndpointIdentity', obj({ id: int({ bits: 64 }), labels: arr(str()) })),
    networking: named(
      'EndpointNetworking',
      obj(
        {
          addressing: arr(named('AddressPair', obj({ ipv4: str(), ipv6: str() }))),
          node: str({ description: 'The IP of the node the endpoint runs on.' }),
        },
        { required: ['addressing'] },
      ),
    ),
    state: oneOfStrings(ENDPOINT_STATES),
    policy: named('EndpointPolicy', obj({ ingress: policyDirection, egress: policyDirection })),
    encryption: obj({ key: int() }),
    'external-identifiers': named(
      'EndpointIdentifiers',
      obj({
        'container-id': str(),
        'container-name': str(),
        'k8s-namespace': str(),
        'k8s-pod-name': str(),
        'pod-name': str({ description: 'Deprecated: use k8s-namespace and k8s-pod-name.' }),
        'cni-attachment-id': str(),
      }),
    ),
    health: obj({ bpf: str(), policy: str(), connected: bool(), overallHealth: str() }),
    controllers: arr(
      obj({
        name: str(),
        uuid: str(),
        configuration: obj({ 'error-retry': bool(), 'error-retry-base': int({ bits: 64 }), interval: int({ bits: 64 }) }),
        status: obj({
          'consecutive-failure-count': int({ bits: 64 }),
          'failure-count': int({ bits: 64 }),
          'last-failure-msg': str(),
          'last-failure-timestamp': str(),
          'last-success-timestamp': str(),
          'success-count': int({ bits: 64 }),
        }),
      }),
    ),
    log: arr(obj({ code: str(), message: str(), state: str(), timestamp: str() })),
    'named-ports': arr(
      named('NamedPort', obj({ name: str(), port: int({ minimum: 0, maximum: 65535 }), protocol: oneOfStrings(['TCP', 'UDP', 'SCTP', 'ANY']) })),
    ),
  }),
);
