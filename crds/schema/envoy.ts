/** CiliumEnvoyConfig and CiliumClusterwideEnvoyConfig: hand-written Envoy resources for chosen Services. */
import { anyObject, arr, int, named, obj, oneOfStrings, str } from './dsl.ts';
import { genericLabelSelector } from './common.ts';

/** xDS resource types a CiliumEnvoyConfig may carry. */
export const ENVOY_RESOURCE_TYPES = [
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
] as const;

/** The spec shared by both Envoy config kinds. */
export const envoyConfigSpec = named(
  'EnvoyConfigSpec',
  obj(
    {
      services: arr(
        obj(
          {
            name: str({ minLength: 1 }),
            namespace: str(),
            listener: str(),
            ports: arr(int({ minimum: 1, maximum: 65535 })),
          },
          { required: ['name'] },
        ),
      ),
      backendServices: arr(obj({ name: str({ minLength: 1 }), namespace: str(), number: arr(str()) }, { required: ['name'] })),
      resources: arr(
        {
          ...anyObject({ description: 'An Envoy xDS resource with its @type.' }),
          properties: { '@type': oneOfStrings(ENVOY_RESOURCE_TYPES) },
          required: ['@type'],
        },
      ),
      nodeSelector: genericLabelSelector,
    },
    { required: ['resources'] },
  ),
);
