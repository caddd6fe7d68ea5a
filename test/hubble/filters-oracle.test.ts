// The server's filters against upstream's own: the same synthetic flows served by Ciliate's Hubble
// server and read from a file by `hubble observe --input-file` (which filters on the client with
// upstream's code); for each set of CLI filter flags both must select exactly the same flows.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowRing } from '../../hubble/ring.ts';
import { HubbleServer } from '../../hubble/server.ts';
import { runCommand } from '../support/cluster.ts';
import { ensureHubbleCli, hubble, hubbleCli, jsonLines } from '../support/hubble-cli.ts';
import { syntheticFlows } from '../support/hubble-flows.ts';
import { httpFlows } from '../support/hubble-http-flows.ts';

const CASES: string[][] = [
  ['--verdict', 'DROPPED'],
  ['--verdict', 'FORWARDED', '--verdict', 'DROPPED'],
  ['-n', 'demo'],
  ['--from-namespace', 'demo', '--to-namespace', 'other'],
  ['--pod', 'demo/client'],
  ['--from-pod', 'demo/server'],
  ['--to-pod', 'other/'],
  ['-l', 'app=server'],
  ['--from-label', 'k8s:tier in (web,data)'],
  ['--to-label', '!tier'],
  ['--to-label', 'app!=server'],
  ['--label', 'reserved:world'],
  ['--to-port', '5432'],
  ['--port', '8080'],
  ['--from-port', '5353'],
  ['--type', 'drop'],
  ['--type', 'drop:133'],
  ['--type', 'trace:from-endpoint'],
  ['--type', 'trace:to-endpoint'],
  ['--type', 'policy-verdict'],
  ['--protocol', 'udp'],
  ['--protocol', 'icmp'],
  ['--protocol', 'tcp', '--protocol', 'udp'],
  ['--from-ip', '10.244.0.0/24'],
  ['--ip', '198.51.100.10'],
  ['--to-identity', '1003'],
  ['--identity', '2'],
  ['--traffic-direction', 'ingress'],
  ['--reply'],
  ['--not-reply'],
  ['--tcp-flags', 'SYN'],
  ['--tcp-flags', 'FIN,ACK'],
  ['--drop-reason-desc', 'POLICY_DENY'],
  ['--node-name', 'node-a'],
  ['--node-name', 'node-*'],
  ['--node-name', 'other-*'],
  ['--not', '--verdict', 'DROPPED'],
  ['-n', 'demo', '--verdict', 'DROPPED'],
  ['--not', '-n', 'other', '--protocol', 'tcp'],
  ['--uuid', '<first>'],
  ['--http-status', '200'],
  ['--fqdn', 'example.com'],
  // HTTP: L7 flows of the node's proxy.
  ['--protocol', 'http'],
  ['--type', 'l7'],
  ['--http-status', '4+'],
  ['--http-status', '40+'],
  ['--http-method', 'PUT'],
  ['--http-method', 'post'],
  ['--http-path', '/v1/.*'],
  ['--http-path', 'exhaust'],
  ['--http-url', 'deathstar\\.default'],
  ['--http-header', 'X-Team:empire'],
  ['--http-status', '403', '--http-method', 'PUT'],
  ['--not', '--http-method', 'GET'],
];

describe('Hubble filters: the server selects what upstream\'s client-side filters select', function () {
  this.timeout(600_000);
  let dir: string;
  let server: HubbleServer | undefined;
  let socket: string;
  let file: string;
  const flows = [...syntheticFlows(36), ...httpFlows()];

  before(async function () {
    if (!(await ensureHubbleCli())) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'ciliate-hubble-'));
    socket = join(dir, 'hubble.sock');
    const ring = new FlowRing(63);
    for (const f of flows) ring.push(f);
    server = new HubbleServer(ring, { nodeName: 'node-a', clusterName: 'default', version: 'test', address: '', peers: { list: () => [], watch: () => () => undefined } });
    await server.listen(socket);
    const all = await hubble(socket, ['observe', '--all', '-o', 'json']);
    expect(all.code, all.stderr).to.equal(0);
    expect(jsonLines(all.stdout)).to.have.length(flows.length);
    file = join(dir, 'flows.json');
    writeFileSync(file, all.stdout);
  });

  after(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const uuids = (stdout: string) => jsonLines<{ flow: { uuid: string } }>(stdout).map((l) => l.flow.uuid);

  for (const flags of CASES) {
    it(`hubble observe ${flags.join(' ')}`, async function () {
      const args = flags.map((a) => (a === '<first>' ? flows[0]!.uuid! : a));
      const served = await hubble(socket, ['observe', '--all', '-o', 'json', ...args]);
      expect(served.code, served.stderr).to.equal(0);
      const oracle = await runCommand(hubbleCli(), ['observe', '--input-file', file, '-o', 'json', ...args], { HUBBLE_CONFIG: '/dev/null' });
      expect(oracle.code, oracle.stderr).to.equal(0);
      expect(uuids(served.stdout)).to.deep.equal(uuids(oracle.stdout));
    });
  }

  it('the cases select different, non-trivial sets of flows', async function () {
    const counts = new Set<number>();
    for (const flags of CASES.slice(0, 12)) counts.add(uuids((await hubble(socket, ['observe', '--all', '-o', 'json', ...flags])).stdout).length);
    expect(counts.size).to.be.greaterThan(4);
  });
});
