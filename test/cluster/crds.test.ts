import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, testCluster } from '../support/cluster.ts';
import { CRDS, GROUP } from '../../crds/definitions.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'policies');
const CRD_DIR = join(import.meta.dirname, '..', '..', 'crds');

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

describe('CRDs on a real kube-apiserver', function () {
  this.timeout(300_000);
  let ns = '';

  before(async () => {
    await testCluster();
    // The cluster installed them at start-up; re-applying the checked-in YAML takes them over unchanged.
    await ok(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
    ns = `crds-${Date.now().toString(36)}`;
    await ok(['create', 'namespace', ns]);
  });

  after(async () => {
    if (ns) await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('installs every CRD and each becomes Established', async () => {
    const names = CRDS.map((c) => `crd/${c.plural}.${GROUP}`);
    await ok(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
    const out = await ok(['get', 'crd', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}']);
    for (const c of CRDS) expect(out).to.contain(`${c.plural}.${GROUP}`);
  });

  describe("accepts upstream's example policies unchanged", () => {
    for (const file of readdirSync(join(FIXTURES, 'accepted'))) {
      it(file, async () => {
        const own = `${ns}-${file.replace(/\.yaml$/, '').slice(0, 20)}`;
        await ok(['create', 'namespace', own]);
        try {
          const out = await ok(['apply', '-n', own, '-f', join(FIXTURES, 'accepted', file)]);
          expect(out).to.match(/created/);
        } finally {
          await kubectl(['delete', 'namespace', own, '--wait=false']);
          await kubectl(['delete', '-f', join(FIXTURES, 'accepted', file), '--ignore-not-found', '--wait=false']);
        }
      });
    }
  });

  describe('rejects invalid manifests at apply time, naming the field', () => {
    const files = readdirSync(join(FIXTURES, 'rejected'));
    it('has at least ten invalid manifests', () => expect(files.length).to.be.at.least(10));
    for (const file of files) {
      it(file, async () => {
        const text = readFileSync(join(FIXTURES, 'rejected', file), 'utf8');
        const expects = [...text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]!);
        expect(expects, 'fixture declares its expected message').to.not.be.empty;
        const r = await kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], { input: text });
        expect(r.code, r.stdout).to.not.equal(0);
        for (const e of expects) expect(r.stderr).to.contain(e);
      });
    }
  });

  describe('kubectl get ciliumendpoints', () => {
    before(async () => {
      const cep = {
        apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint',
        metadata: { name: 'deathstar-6fb5694d48-5hmds', namespace: ns },
        status: {
          id: 1473, identity: { id: 15983, labels: ['k8s:org=empire', 'k8s:class=deathstar'] },
          state: 'ready',
          networking: { addressing: [{ ipv4: '10.244.1.17', ipv6: 'fd00::111' }], node: '172.29.1.2' },
          policy: { ingress: { enforcing: true, state: 'enforcing' }, egress: { enforcing: false, state: 'non-enforcing' } },
        },
      };
      await ok(['apply', '-f', '-'], JSON.stringify(cep));
    });

    it('prints NAME, SECURITY IDENTITY, ENDPOINT STATE, IPV4, IPV6', async () => {
      const out = await ok(['get', 'cep', '-n', ns]);
      const [header, row] = out.trim().split('\n');
      expect(header!.split(/\s{2,}/)).to.deep.equal(['NAME', 'SECURITY IDENTITY', 'ENDPOINT STATE', 'IPV4', 'IPV6']);
      expect(row!.split(/\s+/)).to.deep.equal(['deathstar-6fb5694d48-5hmds', '15983', 'ready', '10.244.1.17', 'fd00::111']);
    });

    it('adds INGRESS ENFORCEMENT and EGRESS ENFORCEMENT under -o wide', async () => {
      const out = await ok(['get', 'ciliumendpoints', '-n', ns, '-o', 'wide']);
      const [header, row] = out.trim().split('\n');
      expect(header!.split(/\s{2,}/)).to.deep.equal(['NAME', 'SECURITY IDENTITY', 'ENDPOINT STATE', 'IPV4', 'IPV6', 'INGRESS ENFORCEMENT', 'EGRESS ENFORCEMENT']);
      expect(row!.split(/\s+/).slice(-2)).to.deep.equal(['enforcing', 'non-enforcing']);
    });

    it('answers to the short name and to -A', async () => {
      const out = await ok(['get', 'cep', '-A']);
      expect(out).to.contain('deathstar-6fb5694d48-5hmds');
    });
  });
});
