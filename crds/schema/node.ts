/** CiliumNode and the IPAM pool kinds: CiliumPodIPPool and CiliumLoadBalancerIPPool, CiliumCIDRGroup. */
import { arr, bool, int, map, named, obj, oneOfStrings, str, withRules, exactlyOneOf } from './dsl.ts';
import { cidrString, conditions, genericLabelSelector, ipString } from './common.ts';

/** Address types a CiliumNode lists. */
export const NODE_ADDRESS_TYPES = ['Hostname', 'ExternalIP', 'InternalIP', 'ExternalDNS', 'InternalDNS', 'CiliumInternalIP'] as const;

const ipPair = obj({ ipv4: str(), ipv6: str() });

const poolCidrs = named('IPAMPoolAllocation', obj({ pool: str({ minLength: 1 }), cidrs: arr(cidrString('An allocated prefix.')) }, { required: ['pool'] }));
const poolRequest = named(
  'IPAMPoolRequest',
  obj({ pool: str({ minLength: 1 }), needed: obj({ 'ipv4-addrs': int({ minimum: 0 }), 'ipv6-addrs': int({ minimum: 0 }) }) }, { required: ['pool'] }),
);

/** The spec of a CiliumNode. */
export const nodeSpec = named(
  'NodeSpec',
  obj({
    'instance-id': str(),
    addresses: arr(named('NodeAddress', obj({ type: oneOfStrings(NODE_ADDRESS_TYPES), ip: str() }))),
    health: ipPair,
    ingress: ipPair,
    encryption: obj({ key: int() }),
    nodeidentity: int({ bits: 64 }),
    bootid: str(),
    ipam: named(
      'IPAMSpec',
      obj({
        podCIDRs: arr(cidrString('A pod prefix assigned to this node.')),
        pool: map(obj({ owner: str(), resource: str() })),
        'ipv6-pool': map(obj({ owner: str(), resource: str() })),
        pools: obj({ requested: arr(poolRequest), allocated: arr(poolCidrs) }),
        'min-allocate': int({ minimum: 0 }),
        'max-allocate': int({ minimum: 0 }),
        'pre-allocate': int({ minimum: 0 }),
        'max-above-watermark': int({ minimum: 0 }),
        'static-ip-tags': map(str()),
      }),
    ),
  }),
);

/** The status of a CiliumNode. */
export const nodeStatus = named(
  'NodeStatus',
  obj({
    ipam: named(
      'IPAMStatus',
      obj({
        used: map(obj({ owner: str(), resource: str() })),
        'ipv6-used': map(obj({ owner: str(), resource: str() })),
        'pod-cidrs': map(obj({ status: oneOfStrings(['released', 'depleted', 'in-use']) })),
        'operator-status': obj({ error: str() }),
        'release-ips': map(oneOfStrings(['marked-for-release', 'ready-for-release', 'do-not-release', 'released'])),
        'release-ipv6s': map(oneOfStrings(['marked-for-release', 'ready-for-release', 'do-not-release', 'released'])),
        'assigned-static-ip': str(),
      }),
    ),
  }),
);

function poolFamily(maxMask: number) {
  return withRules(
    obj(
      {
        cidrs: arr(cidrString('A prefix the pool hands out from.'), { minItems: 1, maxItems: 1000 }),
        maskSize: int({ minimum: 1, maximum: maxMask, description: 'Size of the per-node blocks carved from cidrs.' }),
      },
      { required: ['cidrs', 'maskSize'] },
    ),
    {
      rule: 'self.cidrs.all(c, cidr(c).prefixLength() <= self.maskSize)',
      message: 'maskSize must not be shorter than the prefix length of any of cidrs',
      fieldPath: '.maskSize',
    },
  );
}

/** The spec of a CiliumPodIPPool. */
export const podIPPoolSpec = named(
  'PodIPPoolSpec',
  withRules(
    obj({ ipv4: poolFamily(32), ipv6: poolFamily(128), podSelector: genericLabelSelector, namespaceSelector: genericLabelSelector }),
    { rule: 'has(self.ipv4) || has(self.ipv6)', message: 'a pool needs ipv4 or ipv6' },
  ),
);

const lbBlock = named(
  'IPBlock',
  withRules(
    obj(
      { cidr: cidrString('A prefix of addresses.'), start: ipString('First address of a range.'), stop: ipString('Last address of a range.') },
      { oneOf: exactlyOneOf('cidr', 'start') },
    ),
    { rule: 'has(self.start) == has(self.stop)', message: 'start and stop go together', fieldPath: '.stop' },
  ),
);

/** The spec of a CiliumLoadBalancerIPPool. */
export const lbIPPoolSpec = named(
  'LoadBalancerIPPoolSpec',
  obj({
    blocks: arr(lbBlock, { maxItems: 1024 }),
    serviceSelector: genericLabelSelector,
    disabled: bool({ default: false }),
    allowFirstLastIPs: oneOfStrings(['Yes', 'No']),
  }),
);

/** The status of a CiliumLoadBalancerIPPool. */
export const lbIPPoolStatus = named('LoadBalancerIPPoolStatus', obj({ conditions }));

/** The spec of a CiliumCIDRGroup. */
export const cidrGroupSpec = named(
  'CIDRGroupSpec',
  obj({ externalCIDRs: arr(cidrString('A prefix in the group.')) }, { required: ['externalCIDRs'] }),
);
