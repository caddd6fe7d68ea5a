// The Service environment variables a container gets, as kubelet names them.
import { expect } from 'chai';
import { serviceEnv } from '../../nodes/service-env.ts';
import { containerEnv } from '../../nodes/containers.ts';

describe('service environment variables', function () {
  const env = serviceEnv([
    { metadata: { name: 'death-star' }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] } },
    { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
  ]);

  it('names host and port after the upper-cased Service, dashes to underscores', function () {
    expect(env).to.include({
      DEATH_STAR_SERVICE_HOST: '10.96.0.20', DEATH_STAR_SERVICE_PORT: '80', DEATH_STAR_SERVICE_PORT_HTTP: '80',
      DEATH_STAR_PORT: 'tcp://10.96.0.20:80', DEATH_STAR_PORT_53_UDP_ADDR: '10.96.0.20', DEATH_STAR_PORT_53_UDP_PROTO: 'udp',
    });
    expect(Object.keys(env).some((k) => k.startsWith('HEADLESS'))).to.equal(false);
  });

  it('lets the container spec override them, and enableServiceLinks=false drop them', function () {
    const pod = { metadata: { name: 'p' }, spec: { containers: [] } };
    const c = { name: 'c', env: [{ name: 'DEATH_STAR_SERVICE_PORT', value: '8080' }] };
    expect(containerEnv(pod, c, '10.0.0.1', '172.29.0.1', env)).to.include({ DEATH_STAR_SERVICE_HOST: '10.96.0.20', DEATH_STAR_SERVICE_PORT: '8080' });
    expect(containerEnv({ ...pod, spec: { containers: [], enableServiceLinks: false } }, c, '', '', env)).to.not.have.property('DEATH_STAR_SERVICE_HOST');
  });
});
