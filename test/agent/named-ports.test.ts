// Egress to a named port, resolved as the agent resolves it: from the container ports the selected
// destination endpoints report in their CiliumEndpoints, re-resolved when those change; judged by
// the real endpoint program under BPF_PROG_TEST_RUN.
import { expect } from 'chai';
import { freshHarnessPerTest, WORLD } from './support/feed-harness.ts';

describe('agent: egress named ports from the destination endpoints\' container ports', function () {
  const t = freshHarnessPerTest();

  const ports = (key: string, identity: number, list: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[]) =>
    t.h.applyDiffs(t.h.engine.refreshNamedPorts(t.h.namedPorts.set(key, { identity, ports: list.map((p) => ({ protocol: 'TCP' as const, ...p })) })));

  it('allows the selected peers\' port of that name, follows changes, and ignores other endpoints\' ports', () => {
    ports('default/server', WORLD.server.identity, [{ name: 'http', port: 8080 }]);
    // An endpoint the rule does not select also has an "http" port: it must not widen the rule.
    ports('default/other', WORLD.self.identity, [{ name: 'http', port: 9090 }]);
    t.h.apply({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'np', namespace: 'default', uid: 'u1' },
      spec: {
        endpointSelector: { matchLabels: { app: WORLD.self.app } },
        egress: [{ toEndpoints: [{ matchLabels: { app: WORLD.server.app } }], toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }] }] }],
      },
    });
    expect(t.h.probe('egress', WORLD.server.ip, 8080)).to.equal('allowed');
    expect(t.h.probe('egress', WORLD.server.ip, 9090), 'another endpoint\'s http port').to.equal('denied');
    expect(t.h.probe('egress', WORLD.server.ip, 80)).to.equal('denied');
    // The server's pod is replaced with one whose "http" is 8081.
    ports('default/server', WORLD.server.identity, [{ name: 'http', port: 8081 }]);
    expect(t.h.probe('egress', WORLD.server.ip, 8081)).to.equal('allowed');
    expect(t.h.probe('egress', WORLD.server.ip, 8080), 'the old port').to.equal('denied');
    ports('default/server', WORLD.server.identity, []);
    expect(t.h.probe('egress', WORLD.server.ip, 8081), 'no endpoint has the port any more').to.equal('denied');
  });

  it('an egressDeny on a named port denies that port of the selected peers only', () => {
    ports('default/server', WORLD.server.identity, [{ name: 'admin', port: 9000 }]);
    t.h.apply({
      apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'np', namespace: 'default', uid: 'u1' },
      spec: {
        endpointSelector: { matchLabels: { app: WORLD.self.app } },
        egress: [{ toEndpoints: [{}] }],
        egressDeny: [{ toEndpoints: [{ matchLabels: { app: WORLD.server.app } }], toPorts: [{ ports: [{ port: 'admin' }] }] }],
      },
    });
    expect(t.h.probe('egress', WORLD.server.ip, 9000)).to.equal('deny-rule');
    expect(t.h.probe('egress', WORLD.server.ip, 9001)).to.equal('allowed');
  });
});
