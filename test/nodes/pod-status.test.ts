// Node runner logic without a cluster: pod phase and status from container runs, environment
// and $(VAR) expansion, restart decisions and backoff, netns naming.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { containerArgv, containerEnv, expand, restartDelayMs, shouldRestart, type ContainerRun } from '../../nodes/containers.ts';
import { podPhase, podStatus, type PodView } from '../../nodes/pod-status.ts';
import { podNetnsName } from '../../nodes/sandbox.ts';
import { isClusterNetns } from '../../cluster/node-config.ts';

const pod = (restartPolicy = 'Always'): V1Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u-1' },
  spec: { nodeName: 'c-n0', restartPolicy, containers: [{ name: 'a', image: 'img' }] },
});
const running = (name = 'a'): ContainerRun => ({ name, spec: { name, image: 'img' }, restartCount: 0, proc: {} as ContainerRun['proc'], pid: 42, startedAt: 't0' });
const exited = (code: number, name = 'a'): ContainerRun => ({ ...running(name), exit: { code, signal: null, finishedAt: 't1' } });
const view = (containers: ContainerRun[], policy?: string): PodView => ({ pod: pod(policy), podIP: '10.244.0.5', hostIP: '172.29.1.10', startTime: 't0', containers });

describe('node runner: pod status', () => {
  it('derives the phase from container states and restartPolicy', () => {
    expect(podPhase(view([]))).to.equal('Pending');
    expect(podPhase(view([running()]))).to.equal('Running');
    expect(podPhase(view([exited(0)], 'Never'))).to.equal('Succeeded');
    expect(podPhase(view([exited(0)], 'OnFailure'))).to.equal('Succeeded');
    expect(podPhase(view([exited(2)], 'Never'))).to.equal('Failed');
    expect(podPhase(view([exited(2)], 'OnFailure'))).to.equal('Running');
    expect(podPhase(view([exited(0), running('b')], 'Never'))).to.equal('Running');
    expect(podPhase({ ...view([]), failed: { reason: 'X', message: 'y' } })).to.equal('Failed');
    expect(podPhase({ ...view([]), initializing: true })).to.equal('Pending');
  });

  it('reports IPs, conditions and container statuses', () => {
    const s = podStatus(view([running()])) as Record<string, unknown> & { conditions: { type: string; status: string }[]; containerStatuses: Record<string, unknown>[] };
    expect(s).to.include({ phase: 'Running', podIP: '10.244.0.5', hostIP: '172.29.1.10' });
    expect(s.podIPs).to.deep.equal([{ ip: '10.244.0.5' }]);
    const byType = Object.fromEntries(s.conditions.map((c) => [c.type, c.status]));
    expect(byType).to.include({ Ready: 'True', ContainersReady: 'True', Initialized: 'True', PodScheduled: 'True' });
    expect(s.containerStatuses[0]).to.deep.include({ name: 'a', ready: true, restartCount: 0, containerID: 'ciliate://42', state: { running: { startedAt: 't0' } } });
    const done = podStatus(view([exited(3)], 'Never')) as { containerStatuses: { state: { terminated: { exitCode: number; reason: string } } }[] };
    expect(done.containerStatuses[0]!.state.terminated).to.include({ exitCode: 3, reason: 'Error' });
  });

  it('reports a container without a command as waiting', () => {
    const c: ContainerRun = { name: 'a', spec: { name: 'a', image: 'img' }, restartCount: 0, waitingReason: 'CommandRequired' };
    const s = podStatus(view([c])) as { phase: string; containerStatuses: { state: { waiting?: { reason: string } } }[] };
    expect(s.phase).to.equal('Pending');
    expect(s.containerStatuses[0]!.state.waiting?.reason).to.equal('CommandRequired');
  });
});

describe('node runner: containers', () => {
  it('builds the environment from values and field references, expanding $(VAR)', () => {
    const p = pod();
    const env = containerEnv(p, {
      name: 'a',
      env: [
        { name: 'A', value: 'x' },
        { name: 'B', value: '$(A)-$(MISSING)-$$(A)' },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ],
    }, '10.244.0.9', '172.29.1.10');
    expect(env).to.include({ A: 'x', B: 'x-$(MISSING)-$(A)', IP: '10.244.0.9', NODE: 'c-n0', HOSTNAME: 'p' });
    expect(env.PATH).to.be.a('string');
  });

  it('takes argv from command then args, and none without a command', () => {
    expect(containerArgv({ name: 'a', command: ['sh', '-c'], args: ['echo $(X)'] }, { X: '1' })).to.deep.equal(['sh', '-c', 'echo 1']);
    expect(containerArgv({ name: 'a', args: ['x'] }, {})).to.equal(undefined);
    expect(expand('$$', {})).to.equal('$');
  });

  it('restarts per policy with a capped doubling backoff', () => {
    expect(shouldRestart('Always', 0)).to.be.true;
    expect(shouldRestart(undefined, 1)).to.be.true;
    expect(shouldRestart('OnFailure', 0)).to.be.false;
    expect(shouldRestart('OnFailure', 1)).to.be.true;
    expect(shouldRestart('Never', 1)).to.be.false;
    expect([0, 1, 2, 10].map(restartDelayMs)).to.deep.equal([1000, 2000, 4000, 30_000]);
  });

  it('names pod namespaces so that down can find them, and only them', () => {
    const ns = podNetnsName('c1-n0', 'uid-1');
    expect(ns).to.match(/^c1-n0-p[0-9a-f]{10}$/);
    expect(isClusterNetns('c1', ns)).to.be.true;
    expect(isClusterNetns('c1', 'c1-n3')).to.be.true;
    expect(isClusterNetns('c1', 'c1-x-n0')).to.be.false;
    expect(isClusterNetns('c', 'c1-n0')).to.be.false;
  });
});
