// Unit tests of operator settings: sources, precedence, and errors that name the setting.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../operator/config.ts';
import { parseDuration, parseListenAddress } from '../../runtime/settings.ts';
import { expectConfigError } from '../support/config-error.ts';

const pool = ['--cluster-pool-ipv4-cidr=10.0.0.0/8'];

const rejects = expectConfigError;

describe('operator/config', () => {
  it('has upstream defaults', () => {
    const c = loadConfig({ argv: pool });
    expect(c.ipam).to.equal('cluster-pool');
    expect(c.clusterPool.ipv4).to.deep.equal({ cidrs: ['10.0.0.0/8'], maskSize: 24 });
    expect(c.identityGcIntervalMs).to.equal(15 * 60_000);
    expect(c.identityHeartbeatTimeoutMs).to.equal(30 * 60_000);
    expect(c.prometheus).to.deep.equal({ host: '', port: 9963 });
    expect(c.leaderElection).to.deep.equal({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
  });

  it('takes flags over CILIUM_ env over config-dir files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ciliate-cfg-'));
    try {
      writeFileSync(join(dir, 'cluster-pool-ipv4-cidr'), '10.1.0.0/16 10.2.0.0/16\n');
      writeFileSync(join(dir, 'cluster-pool-ipv4-mask-size'), '26');
      writeFileSync(join(dir, 'identity-gc-interval'), '1m');
      writeFileSync(join(dir, 'some-agent-only-key'), 'ignored');
      const c = loadConfig({
        argv: [`--config-dir=${dir}`, '--identity-gc-interval', '30s'],
        env: { CILIUM_CLUSTER_POOL_IPV4_MASK_SIZE: '27' },
      });
      expect(c.clusterPool.ipv4).to.deep.equal({ cidrs: ['10.1.0.0/16', '10.2.0.0/16'], maskSize: 27 });
      expect(c.identityGcIntervalMs).to.equal(30_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts multi-pool without cluster-pool settings', () => {
    expect(loadConfig({ argv: ['--ipam=multi-pool'] }).clusterPool).to.deep.equal({});
  });

  it('rejects bad settings with an error naming the setting', () => {
    rejects(() => loadConfig({ argv: ['--ipam=eni'] }), 'ipam');
    rejects(() => loadConfig({ argv: [] }), 'cluster-pool-ipv4-cidr');
    rejects(() => loadConfig({ argv: ['--cluster-pool-ipv4-cidr=10.0.0.1/8'] }), 'cluster-pool-ipv4-cidr');
    rejects(() => loadConfig({ argv: ['--cluster-pool-ipv4-cidr=fd00::/104'] }), 'cluster-pool-ipv4-cidr');
    rejects(() => loadConfig({ argv: [...pool, '--cluster-pool-ipv4-mask-size=4'] }), 'cluster-pool-ipv4-mask-size');
    rejects(() => loadConfig({ argv: [...pool, '--cluster-pool-ipv4-mask-size=x'] }), 'cluster-pool-ipv4-mask-size');
    rejects(() => loadConfig({ argv: [...pool, '--enable-ipv6', '--cluster-pool-ipv6-cidr=fd00::/32'] }), 'cluster-pool-ipv6-mask-size');
    rejects(() => loadConfig({ argv: ['--cluster-pool-ipv4-cidr=10.0.0.0/8,10.1.0.0/16'] }), 'cluster-pool-ipv4-cidr');
    rejects(() => loadConfig({ argv: [...pool, '--identity-gc-interval=15'] }), 'identity-gc-interval');
    rejects(() => loadConfig({ argv: [...pool, '--operator-prometheus-serve-addr=9963'] }), 'operator-prometheus-serve-addr');
    rejects(() => loadConfig({ argv: [...pool, '--leader-election-renew-deadline=20s'] }), 'leader-election-renew-deadline');
    rejects(() => loadConfig({ argv: [...pool, '--no-such-thing=1'] }), 'no-such-thing');
    rejects(() => loadConfig({ argv: [...pool, '--config-dir=/nonexistent/ciliate'] }), 'config-dir');
    rejects(() => loadConfig({ argv: [...pool, '--enable-ipv4=false'] }), 'enable-ipv4');
  });

  it('parses Go-style durations and listen addresses', () => {
    expect(parseDuration('x', '1h30m')).to.equal(5_400_000);
    expect(parseDuration('x', '250ms')).to.equal(250);
    expect(parseDuration('x', '0')).to.equal(0);
    expect(parseListenAddress('x', '127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('x', '[::1]:9963')).to.deep.equal({ host: '::1', port: 9963 });
  });
});
