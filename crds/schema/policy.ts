/**
 * The CiliumNetworkPolicy rule schema, shared by CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy. Field names and enums follow cilium.io/v2.
 *
 * The rule comes in two variants. The `checked` one, used for `spec`, carries CEL rules that reject
 * at apply time the combinations Cilium itself only reports later from the agent; CEL has a cost
 * budget per object, so its lists are bounded (LIMITS). The other, used for the unbounded `specs`
 * list, has only the structural checks; the operator validates its rules fully and reports them in
 * the policy's Valid condition.
 */
import {
  arr, bool, exactlyOneOf, int, intOrString, map, named, obj, oneOfStrings, str, withRules, type Schema,
} from './dsl.ts';
import { cidrString, conditions, endpointSelector, secretRef } from './common.ts';

/** Entities a rule can name in fromEntities / toEntities. */
export const ENTITIES = [
  'all', 'world', 'cluster', 'host', 'init', 'ingress', 'unmanaged', 'remote-node', 'health', 'none', 'kube-apiserver',
] as const;

/** Protocols a port rule accepts. */
export const PORT_PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ANY'] as const;

const numericOrNamedPort =
  '^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})$|^([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$';
const dnsName = '^([-a-zA-Z0-9_]+[.]?)+$';
const dnsPattern = '^([-a-zA-Z0-9_*]+[.]?)+$';

/** Bounds on the lists of a CEL-checked rule, so the apiserver's CEL cost estimate fits its budget. */
export const LIMITS = { rulesPerDirection: 128, portRules: 32, ports: 40, except: 64 } as const;

/** Counts how many of `fields` are set, in CEL (cheap: no list is built). */
function countSet(fields: string[]): string {
  return fields.map((f) => `(has(self.${f}) ? 1 : 0)`).join(' + ');
}

/** Builds the rule schema; `checked` adds CEL rules and the list bounds they need. */
export function ruleSchema(checked: boolean): Schema {
  const cel = <S extends Schema>(s: S, ...rules: Parameters<typeof withRules>[1][]) => (checked ? withRules(s, ...rules) : s);
  const bound = (max: number) => (checked ? { maxItems: max } : {});

  const portProtocol = named(
    'PortProtocol',
    cel(
      obj({
        port: str({ maxLength: 15, pattern: numericOrNamedPort, description: 'A port number (0-65535) or a named port of the endpoint.' }),
        endPort: int({ bits: 32, minimum: 0, maximum: 65535, description: 'The last port of a range starting at port.' }),
        protocol: oneOfStrings(PORT_PROTOCOLS, { description: 'L4 protocol; omitted or ANY matches every protocol.' }),
      }),
      {
        rule: "!has(self.endPort) || self.endPort == 0 || !has(self.port) || !self.port.matches('^[0-9]+$') || int(self.port) <= self.endPort",
        message: 'endPort must not be lower than port',
        fieldPath: '.endPort',
      },
    ),
  );
  const fqdnSelector = named(
    'FQDNSelector',
    obj(
      {
        matchName: str({ maxLength: 255, pattern: dnsName, description: 'An exact DNS name.' }),
        matchPattern: str({ maxLength: 255, pattern: dnsPattern, description: "A DNS name with '*' wildcards within labels." }),
      },
      { oneOf: exactlyOneOf('matchName', 'matchPattern') },
    ),
  );
  const l7Rules = named(
    'L7Rules',
    cel(
      obj({
        http: arr(httpRule),
        kafka: arr(kafkaRule),
        dns: arr(fqdnSelector),
        l7proto: str({ description: 'The name of the generic L7 parser for l7 rules.' }),
        l7: arr(map(str())),
      }),
      {
        rule: `${countSet(['http', 'kafka', 'dns', 'l7'])} <= 1`,
        message: 'only one kind of L7 rule (http, kafka, dns or l7) is allowed per port rule',
      },
      { rule: '!has(self.l7) || has(self.l7proto)', message: 'l7 rules need l7proto', fieldPath: '.l7proto' },
    ),
  );
  const portList = arr(portProtocol, { maxItems: LIMITS.ports, description: 'At most 40 ports per port rule.' });
  const portRule = named(
    'PortRule',
    cel(
      obj({
        ports: portList,
        rules: l7Rules,
        terminatingTLS: tlsContext,
        originatingTLS: tlsContext,
        serverNames: arr(str({ minLength: 1 })),
        listener,
      }),
      {
        rule: "!has(self.rules) || has(self.rules.dns) || !has(self.ports) || self.ports.all(p, !has(p.protocol) || p.protocol == 'TCP' || p.protocol == 'ANY')",
        message: 'L7 rules other than dns need protocol TCP',
        fieldPath: '.ports',
      },
      {
        rule: "!has(self.rules) || !has(self.rules.dns) || (has(self.ports) && self.ports.all(p, has(p.port) && p.port != '0' && (!has(p.endPort) || p.endPort == 0)))",
        message: 'dns rules need explicit ports (such as 53) and no port ranges',
        fieldPath: '.ports',
      },
      {
        rule: "!has(self.rules) || has(self.rules.dns) || !has(self.ports) || self.ports.all(p, has(p.port) && p.port != '0')",
        message: 'L7 rules cannot apply to port 0 (all ports)',
        fieldPath: '.ports',
      },
      {
        rule: '!has(self.serverNames) || !has(self.rules) || has(self.terminatingTLS)',
        message: 'serverNames with L7 rules need terminatingTLS',
        fieldPath: '.serverNames',
      },
    ),
  );
  const portDenyRule = named('PortDenyRule', obj({ ports: portList }));
  const cidrRule = named(
    'CIDRRule',
    obj(
      {
        cidr: cidrString('A prefix the peer address must fall in.'),
        cidrGroupRef: str({ maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'Name of a CiliumCIDRGroup.' }),
        cidrGroupSelector: endpointSelector,
        except: arr(cidrString('A sub-prefix of cidr to leave out.')),
      },
      { oneOf: exactlyOneOf('cidr', 'cidrGroupRef', 'cidrGroupSelector') },
    ),
  );

  const oneL3PeerKind = (fields: string[]) => ({
    rule: `${countSet(fields)} <= 1`,
    message: `combining ${fields.join(', ')} in one rule is not supported; write them as separate rules`,
  });
  const icmpsWithoutPorts = { rule: '!(has(self.icmps) && has(self.toPorts))', message: 'icmps and toPorts cannot be combined in one rule' };
  const peers = (dir: 'from' | 'to'): Record<string, Schema> => ({
    [`${dir}Endpoints`]: arr(endpointSelector),
    [`${dir}Requires`]: arr(endpointSelector),
    [`${dir}CIDR`]: arr(cidrString('A peer prefix.')),
    [`${dir}CIDRSet`]: arr(cidrRule),
    [`${dir}Entities`]: arr(oneOfStrings(ENTITIES)),
    [`${dir}Groups`]: arr(awsGroup),
    [`${dir}Nodes`]: arr(endpointSelector),
    icmps: arr(icmpRule),
  });
  const ingressL3 = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromGroups', 'fromNodes'];
  const egressL3 = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toGroups', 'toNodes', 'toServices', 'toFQDNs'];
  const portRules = arr(portRule, bound(LIMITS.portRules));
  const portDenyRules = arr(portDenyRule, bound(LIMITS.portRules));

  const ingressRule = named(
    'IngressRule',
    cel(
      obj({ ...peers('from'), toPorts: portRules, authentication }),
      oneL3PeerKind(ingressL3),
      icmpsWithoutPorts,
      {
        rule: '!has(self.toPorts) || self.toPorts.all(p, !has(p.rules) || !has(p.rules.dns))',
        message: 'dns rules are only allowed on egress',
        fieldPath: '.toPorts',
      },
    ),
  );
  const ingressDenyRule = named(
    'IngressDenyRule',
    cel(obj({ ...peers('from'), toPorts: portDenyRules }), oneL3PeerKind(ingressL3), icmpsWithoutPorts),
  );
  const egressRule = named(
    'EgressRule',
    cel(
      obj({ ...peers('to'), toServices: arr(service), toFQDNs: arr(fqdnSelector), toPorts: portRules, authentication }),
      oneL3PeerKind(egressL3),
      icmpsWithoutPorts,
    ),
  );
  const egressDenyRule = named(
    'EgressDenyRule',
    cel(
      obj({ ...peers('to'), toServices: arr(service), toPorts: portDenyRules }),
      oneL3PeerKind(egressL3.filter((f) => f !== 'toFQDNs')),
      icmpsWithoutPorts,
    ),
  );
  const perDirection = bound(LIMITS.rulesPerDirection);
  return named(
    'Rule',
    obj(
      {
        endpointSelector,
        nodeSelector: endpointSelector,
        ingress: arr(ingressRule, perDirection),
        ingressDeny: arr(ingressDenyRule, perDirection),
        egress: arr(egressRule, perDirection),
        egressDeny: arr(egressDenyRule, perDirection),
        labels: arr(named('Label', obj({ key: str(), value: str(), source: str() }, { required: ['key'] }))),
        enableDefaultDeny: named('DefaultDenyConfig', obj({ ingress: bool(), egress: bool() })),
        description: str({ description: 'Free text describing the rule.' }),
        log: obj({ value: str() }),
      },
      { oneOf: exactlyOneOf('endpointSelector', 'nodeSelector') },
    ),
  );
}

const headerMatch = named(
  'HeaderMatch',
  obj(
    { name: str({ minLength: 1 }), value: str(), secret: secretRef, mismatch: oneOfStrings(['LOG', 'ADD', 'DELETE', 'REPLACE']) },
    { required: ['name'] },
  ),
);

const httpRule = named(
  'PortRuleHTTP',
  obj({
    method: str({ description: 'Extended POSIX regex matched against the request method.' }),
    path: str({ description: 'Extended POSIX regex matched against the whole request path.' }),
    host: str({ description: 'Extended POSIX regex matched against the Host header.' }),
    headers: arr(str(), { description: 'Headers that must be present.' }),
    headerMatches: arr(headerMatch),
  }),
);

const kafkaRule = named(
  'PortRuleKafka',
  obj({
    role: oneOfStrings(['produce', 'consume']),
    apiKey: str(),
    apiVersion: str(),
    clientID: str({ pattern: '^[a-zA-Z0-9._-]*$' }),
    topic: str({ maxLength: 255, pattern: '^[a-zA-Z0-9._-]*$' }),
  }),
);

const tlsContext = named('TLSContext', obj({ secret: secretRef, trustedCA: str(), certificate: str(), privateKey: str() }, { required: ['secret'] }));

const listener = named(
  'Listener',
  obj(
    {
      envoyConfig: obj(
        { kind: oneOfStrings(['CiliumEnvoyConfig', 'CiliumClusterwideEnvoyConfig']), name: str({ minLength: 1 }) },
        { required: ['kind', 'name'] },
      ),
      name: str({ minLength: 1 }),
      priority: int({ minimum: 1, maximum: 100 }),
    },
    { required: ['envoyConfig', 'name'] },
  ),
);

const icmpRule = named(
  'ICMPRule',
  obj({
    fields: arr(
      named(
        'ICMPField',
        obj(
          {
            family: oneOfStrings(['IPv4', 'IPv6'], { default: 'IPv4' }),
            type: intOrString({ description: 'ICMP type as a number (0-255) or a name such as EchoRequest.' }),
          },
          { required: ['type'] },
        ),
      ),
      { maxItems: 40 },
    ),
  }),
);

const authentication = named('Authentication', obj({ mode: oneOfStrings(['disabled', 'required', 'test-always-fail']) }, { required: ['mode'] }));

const awsGroup = named(
  'Groups',
  obj({ aws: obj({ labels: map(str()), region: str(), securityGroupsIds: arr(str()), securityGroupsNames: arr(str()) }) }),
);

const service = named(
  'Service',
  obj({
    k8sService: obj({ serviceName: str(), namespace: str() }),
    k8sServiceSelector: obj(
      { selector: named('ServiceSelector', obj({ matchLabels: map(str()), matchExpressions: endpointSelector.properties!.matchExpressions! })), namespace: str() },
      { required: ['selector'] },
    ),
  }),
);

/** The CEL-checked rule, for `spec`. */
export const checkedRule = ruleSchema(true);
/** The structurally checked rule, for `specs`. */
export const rule = ruleSchema(false);

/** Status of a (clusterwide) network policy: conditions such as Valid, and derivative policies. */
export const policyStatus = named(
  'NetworkPolicyStatus',
  obj({
    conditions,
    derivativePolicies: map(
      obj({
        enforcing: bool(),
        error: str(),
        lastUpdated: str({ format: 'date-time' }),
        localPolicyRevision: int({ bits: 64 }),
        ok: bool(),
        annotations: map(str()),
      }),
    ),
  }),
);
