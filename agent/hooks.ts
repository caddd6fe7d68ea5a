/**
 * Where the rest of the agent plugs into the endpoint lifecycle. The datapath and policy work
 * replaces these defaults through {@link setEndpointHooks}: CNI ADD only answers after
 * `beforeAddReturns` resolves, so a pod's network is usable only once its identity and policy are
 * in the kernel.
 */

/** An endpoint as the agent records it (persisted per endpoint under the agent's state folder). */
export interface Endpoint {
  /** `containerId/ifName`: the IPAM owner and the key of the record. */
  key: string;
  containerId: string;
  ifName: string;
  /** The pod's network namespace path. */
  netns: string;
  /** The pod's IPv4 address. */
  ip: string;
  /** Host-side veth in the node namespace (`lxc<hash>`); its ifindex is where tc programs attach. */
  hostIf: string;
  hostMac: string;
  podMac: string;
  /** From CNI_ARGS; empty when the runtime did not pass them. */
  podNamespace: string;
  podName: string;
  podUid: string;
  createdAt: string;
}

/** The endpoint lifecycle hooks. */
export interface EndpointHooks {
  /**
   * Called after the veth, addresses and routes exist and before CNI ADD returns. Resolve once the
   * endpoint's security identity is allocated and its policy is loaded into the kernel; reject to
   * fail the ADD (the agent then removes the endpoint again). Default: resolves immediately.
   */
  beforeAddReturns(endpoint: Endpoint): Promise<void>;
  /** Called when CNI DEL removed the endpoint (best effort; errors are logged). Default: nothing. */
  afterDelete(endpoint: Endpoint): Promise<void>;
}

const defaults: EndpointHooks = {
  beforeAddReturns: async () => undefined,
  afterDelete: async () => undefined,
};

let current: EndpointHooks = defaults;

/** Installs hooks (missing ones keep their defaults). */
export function setEndpointHooks(hooks: Partial<EndpointHooks>): void {
  current = { ...defaults, ...hooks };
}

/** The installed hooks. */
export function endpointHooks(): EndpointHooks {
  return current;
}
