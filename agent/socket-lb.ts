/**
 * Socket-level service translation for the node's pods: the connect4/sendmsg4/recvmsg4/getpeername4
 * programs attached to the node's cgroup v2 directory, which the node runner places every container
 * in. Links are pinned under <pinRoot>/links/sock, so translation outlives the agent and a restarted
 * agent swaps its programs in place.
 */
import { join } from 'node:path';
import { attachCgroupPinned, CgroupAttachType } from '../datapath/attach.ts';
import { loadSock } from '../datapath/loader.ts';
import { native } from '../datapath/native.ts';
import type { Logger } from '../runtime/logger.ts';

/** Loads the socket-LB programs and attaches them to `cgroupPath` (a cgroup v2 directory). */
export function attachSocketLb(o: { pinRoot: string; cgroupPath: string; log: Logger }): void {
  const progs = loadSock({ pinRoot: o.pinRoot });
  try {
    const hooks = [
      ['connect4', progs.connect4, CgroupAttachType.INET4_CONNECT],
      ['sendmsg4', progs.sendmsg4, CgroupAttachType.INET4_SENDMSG],
      ['recvmsg4', progs.recvmsg4, CgroupAttachType.INET4_RECVMSG],
      ['getpeername4', progs.getpeername4, CgroupAttachType.INET4_GETPEERNAME],
    ] as const;
    let restored = false;
    for (const [name, fd, type] of hooks) restored = attachCgroupPinned(join(o.pinRoot, 'links', 'sock', name), fd, o.cgroupPath, type) || restored;
    o.log.info('socket-level service translation attached', { cgroup: o.cgroupPath, restored });
  } finally {
    for (const fd of Object.values(progs)) native().fdClose(fd);
  }
}
