// createNetns: a named namespace made in process stands where `ip netns add` would put it, is new and
// empty, is seen by `ip netns` and by child processes, leaves the thread in its own namespace, and is
// removed by `ip netns del`.
import { expect } from 'chai';
import { readlinkSync, statSync } from 'node:fs';
import { createNetns } from '../../datapath/netns.ts';
import { RouteSocket } from '../../datapath/netlink/route-socket.ts';
import { requireBpf } from './support/env.ts';
import { sh, uniqueSuffix } from './support/netns.ts';

describe('createNetns', function () {
  const name = `cinc${uniqueSuffix()}`;
  const path = `/run/netns/${name}`;
  let made = false;

  before(function () {
    requireBpf(this);
  });

  after(function () {
    if (made) sh('ip', 'netns', 'del', name);
  });

  it('makes a new empty namespace at the path and returns the thread to its own', function () {
    const own = readlinkSync('/proc/thread-self/ns/net');
    createNetns(path);
    made = true;
    expect(readlinkSync('/proc/thread-self/ns/net')).to.equal(own);
    expect(`net:[${statSync(path).ino}]`).to.not.equal(own);
    const links = RouteSocket.using(path, (s) => [s.link('lo')?.index, s.routes().length]);
    expect(links).to.deep.equal([1, 0]);
  });

  it('is listed by ip netns and entered by a child process as any named namespace', function () {
    expect((JSON.parse(sh('ip', '-j', 'netns', 'list')) as { name: string }[]).map((n) => n.name)).to.include(name);
    expect(sh('nsenter', `--net=${path}`, 'readlink', '/proc/self/ns/net').trim()).to.equal(`net:[${statSync(path).ino}]`);
    sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
  });

  it('refuses a taken path, naming the syscall and the path', function () {
    expect(() => createNetns(path)).to.throw(new RegExp(`^EEXIST: .*, open '${path}'$`));
  });

  it('is removed by ip netns del', function () {
    sh('ip', 'netns', 'del', name);
    made = false;
    expect(() => statSync(path)).to.throw(/ENOENT/);
  });
});
