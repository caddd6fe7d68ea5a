/** The BGP control plane v2 kinds: cluster config, peer config, advertisements and per-node config. */
import { arr, bool, int, named, obj, oneOfStrings, str, withRules } from './dsl.ts';
import { conditions, genericLabelSelector, ipString } from './common.ts';

const asn = (min: number) => int({ bits: 64, minimum: min, maximum: 4294967295 });
const peerConfigRef = (alpha: boolean) =>
  named(
    alpha ? 'PeerConfigReferenceV2Alpha1' : 'PeerConfigReference',
    obj(
      {
        name: str({ minLength: 1 }),
        ...(alpha ? { group: str({ default: 'cilium.io' }), kind: str({ default: 'CiliumBGPPeerConfig' }) } : {}),
      },
      { required: ['name'] },
    ),
  );

/** The spec of a CiliumBGPClusterConfig (alpha adds peerConfigRef.group/kind). */
export function bgpClusterConfigSpec(alpha: boolean) {
  return named(
    alpha ? 'BGPClusterConfigSpecV2Alpha1' : 'BGPClusterConfigSpec',
    obj(
      {
        nodeSelector: genericLabelSelector,
        bgpInstances: arr(
          obj(
            {
              name: str({ minLength: 1, maxLength: 255 }),
              localASN: asn(1),
              localPort: int({ minimum: 1, maximum: 65535 }),
              peers: arr(
                obj(
                  { name: str({ minLength: 1, maxLength: 255 }), peerAddress: ipString('Address of the peer.'), peerASN: asn(0), peerConfigRef: peerConfigRef(alpha) },
                  { required: ['name'] },
                ),
                { maxItems: 1024 },
              ),
            },
            { required: ['name'] },
          ),
          { minItems: 1, maxItems: 16 },
        ),
      },
      { required: ['bgpInstances'] },
    ),
  );
}

const family = named(
  'CiliumBGPFamilyWithAdverts',
  obj(
    {
      afi: oneOfStrings(['ipv4', 'ipv6', 'l2vpn', 'ls', 'opaque']),
      safi: oneOfStrings(['unicast', 'multicast', 'mpls_label', 'encapsulation', 'vpls', 'evpn', 'ls', 'sr_policy', 'mup', 'mpls_vpn', 'mpls_vpn_multicast', 'route_target_constraints', 'flowspec_unicast', 'flowspec_vpn', 'key_value']),
      advertisements: genericLabelSelector,
    },
    { required: ['afi', 'safi'] },
  ),
);

/** The spec of a CiliumBGPPeerConfig (alpha keeps transport.localPort). */
export function bgpPeerConfigSpec(alpha: boolean) {
  return named(
    alpha ? 'BGPPeerConfigSpecV2Alpha1' : 'BGPPeerConfigSpec',
    obj({
      transport: obj({
        ...(alpha ? { localPort: int({ minimum: 1, maximum: 65535, default: 179 }) } : {}),
        peerPort: int({ minimum: 1, maximum: 65535, default: 179 }),
      }),
      timers: withRules(
        obj({
          connectRetryTimeSeconds: int({ minimum: 1, maximum: 2147483647, default: 120 }),
          holdTimeSeconds: int({ minimum: 3, maximum: 65535, default: 90 }),
          keepAliveTimeSeconds: int({ minimum: 1, maximum: 65535, default: 30 }),
        }),
        {
          rule: '!has(self.keepAliveTimeSeconds) || !has(self.holdTimeSeconds) || self.keepAliveTimeSeconds <= self.holdTimeSeconds',
          message: 'keepAliveTimeSeconds must not exceed holdTimeSeconds',
          fieldPath: '.keepAliveTimeSeconds',
        },
      ),
      authSecretRef: str(),
      gracefulRestart: obj({ enabled: bool({ default: false }), restartTimeSeconds: int({ minimum: 1, maximum: 4095, default: 120 }) }, { required: ['enabled'] }),
      ebgpMultihop: int({ minimum: 1, maximum: 255, default: 1 }),
      families: arr(family),
    }),
  );
}

/** The spec of a CiliumBGPAdvertisement. */
export const bgpAdvertisementSpec = named(
  'BGPAdvertisementSpec',
  obj(
    {
      advertisements: arr(
        withRules(
          obj(
            {
              advertisementType: oneOfStrings(['PodCIDR', 'CiliumPodIPPool', 'Service']),
              service: obj({ addresses: arr(oneOfStrings(['LoadBalancerIP', 'ClusterIP', 'ExternalIP']), { minItems: 1 }) }, { required: ['addresses'] }),
              selector: genericLabelSelector,
              attributes: obj({
                communities: obj({
                  standard: arr(str({ pattern: '^([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$|^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]):([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$' })),
                  large: arr(str({ pattern: '^([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5]):([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5]):([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$' })),
                  wellKnown: arr(oneOfStrings(['internet', 'planned-shut', 'accept-own', 'route-filter-translated-v4', 'route-filter-v4', 'route-filter-translated-v6', 'route-filter-v6', 'llgr-stale', 'no-llgr', 'blackhole', 'no-export', 'no-advertise', 'no-export-subconfed', 'no-peer'])),
                }),
                localPreference: int({ bits: 64 }),
              }),
            },
            { required: ['advertisementType'] },
          ),
          { rule: "self.advertisementType != 'Service' || has(self.service)", message: 'advertisementType Service needs service.addresses', fieldPath: '.service' },
        ),
      ),
    },
    { required: ['advertisements'] },
  ),
);

/** The spec of a CiliumBGPNodeConfig, written by the operator for one node. */
export function bgpNodeConfigSpec(alpha: boolean) {
  return named(
    alpha ? 'BGPNodeConfigSpecV2Alpha1' : 'BGPNodeConfigSpec',
    obj(
      {
        bgpInstances: arr(
          obj(
            {
              name: str({ minLength: 1, maxLength: 255 }),
              localASN: asn(1),
              localPort: int({ minimum: 1, maximum: 65535 }),
              routerID: str(),
              peers: arr(
                obj(
                  { name: str({ minLength: 1 }), peerAddress: str(), peerASN: asn(0), localAddress: str(), peerConfigRef: peerConfigRef(alpha) },
                  { required: ['name'] },
                ),
              ),
            },
            { required: ['name'] },
          ),
          { minItems: 1, maxItems: 16 },
        ),
      },
      { required: ['bgpInstances'] },
    ),
  );
}

/** The status of a CiliumBGPNodeConfig: per-instance peering state. */
export const bgpNodeConfigStatus = named(
  'BGPNodeConfigStatus',
  obj({
    bgpInstances: arr(
      obj(
        {
          name: str(),
          localASN: asn(0),
          peers: arr(
            obj(
              {
                name: str(),
                peerAddress: str(),
                peerASN: asn(0),
                peeringState: str(),
                establishedTime: str(),
                routeCount: arr(obj({ afi: str(), safi: str(), advertised: int(), received: int() })),
                timers: obj({ appliedHoldTimeSeconds: int(), appliedKeepaliveSeconds: int() }),
              },
              { required: ['name', 'peerAddress'] },
            ),
          ),
        },
        { required: ['name'] },
      ),
    ),
    conditions,
  }),
);

/** Status with conditions only. */
export const conditionsStatus = named('ConditionsStatus', obj({ conditions }));
