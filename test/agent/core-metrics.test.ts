// The agent's core metrics as upstream names and labels them, from a fake view of its state.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { enforcementLabel, identityType, registerCoreMetrics, type EndpointStatus } from '../../agent/core-metrics.ts';
import { IDENTITY_SCOPE_LOCAL, IDENTITY_SCOPE_REMOTE_NODE } from '../../identity/numeric.ts';

describe('core agent metrics', () => {
  it('names identity types and enforcement as upstream', () => {
    expect([1, 2, 255, 256, 70000, IDENTITY_SCOPE_LOCAL + 5, IDENTITY_SCOPE_REMOTE_NODE + 1].map(identityType))
      .to.deep.equal(['reserved', 'reserved', 'reserved', 'cluster_local', 'cluster_local', 'node_local', 'remote_node']);
    expect([[true, true], [true, false], [false, true], [false, false]].map(([ingress, egress]) => enforcementLabel({ ingress: ingress!, egress: egress! })))
      .to.deep.equal(['both', 'ingress', 'egress', 'none']);
  });

  it('reads policies, endpoints and identities at each scrape; observes regenerations', async () => {
    const registry = new Registry();
    let endpoints: EndpointStatus[] = [
      { state: 'ready', enforcement: { ingress: true, egress: false } },
      { state: 'ready', enforcement: { ingress: false, egress: false } },
    ];
    const regenerated = registerCoreMetrics(registry, {
      policyRules: () => 3, endpoints: () => endpoints, identities: () => [1, 2, 6, 300, 301, IDENTITY_SCOPE_LOCAL + 1],
    });
    regenerated(0.002, true);
    regenerated(0.5, false);
    let text = await registry.metrics();
    const lines = (prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
    expect(lines('cilium_policy ')).to.deep.equal(['cilium_policy 3']);
    expect(lines('cilium_endpoint_state{')).to.deep.equal(['cilium_endpoint_state{endpoint_state="ready"} 2']);
    expect(lines('cilium_identity{')).to.have.members(['cilium_identity{type="reserved"} 3', 'cilium_identity{type="cluster_local"} 2', 'cilium_identity{type="node_local"} 1']);
    expect(lines('cilium_policy_endpoint_enforcement_status{')).to.have.members([
      'cilium_policy_endpoint_enforcement_status{enforcement="ingress"} 1', 'cilium_policy_endpoint_enforcement_status{enforcement="none"} 1',
    ]);
    expect(lines('cilium_endpoint_regenerations_total{')).to.have.members([
      'cilium_endpoint_regenerations_total{outcome="success"} 1', 'cilium_endpoint_regenerations_total{outcome="fail"} 1',
    ]);
    for (const name of ['cilium_endpoint_regeneration_time_stats_seconds', 'cilium_policy_regeneration_time_stats_seconds']) {
      expect(lines(`${name}_count{`)).to.have.members([`${name}_count{scope="total",status="success"} 1`, `${name}_count{scope="total",status="failure"} 1`]);
    }
    endpoints = [];
    text = await registry.metrics();
    expect(lines('cilium_endpoint_state{')).to.deep.equal([]);
  });
});
