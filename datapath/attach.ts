// Attaching endpoint programs: tcx links where the kernel has them, clsact filters otherwise;
// atomic replacement (link update / filter replace at the same handle) and detach; cgroup links.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { native } from './native.ts';
import { NotSupportedError, isErrno } from './errors.ts';
import type { EndpointProgs } from './loader.ts';

/** How programs are attached to an interface. */
export type AttachMode = 'tcx' | 'clsact';

const TC_HANDLE = 1;
const TC_PRIORITY = 1;

let tcxProbe: boolean | undefined;

/** Programs attached to both directions of one interface. */
export class InterfaceAttachment {
  private detached = false;

  /** Use attachEndpoint(). */
  constructor(
    readonly ifindex: number,
    readonly mode: AttachMode,
    private readonly ingressLink: number,
    private readonly egressLink: number,
  ) {}

  /** Swaps in new programs with no moment in which the interface runs none. */
  replace(progs: EndpointProgs): void {
    if (this.mode === 'tcx') {
      native().linkUpdate(this.ingressLink, progs.fromContainer);
      native().linkUpdate(this.egressLink, progs.toContainer);
    } else {
      native().tcAttach(this.ifindex, 'ingress', progs.fromContainer, TC_HANDLE, TC_PRIORITY);
      native().tcAttach(this.ifindex, 'egress', progs.toContainer, TC_HANDLE, TC_PRIORITY);
    }
  }

  /**
   * Pins the tcx links as <dir>/ingress and <dir>/egress so the programs stay attached after this
   * process exits; reopen with InterfaceAttachment.openPinned. clsact filters need no pinning.
   */
  pin(dir: string): void {
    if (this.mode !== 'tcx') return;
    native().objPin(this.ingressLink, join(dir, 'ingress'));
    native().objPin(this.egressLink, join(dir, 'egress'));
  }

  /** Re-adopts tcx links pinned by pin() (e.g. after an agent restart). */
  static openPinned(dir: string, ifindex: number): InterfaceAttachment {
    const ingress = native().objGet(join(dir, 'ingress'));
    try {
      return new InterfaceAttachment(ifindex, 'tcx', ingress, native().objGet(join(dir, 'egress')));
    } catch (err) {
      native().fdClose(ingress);
      throw err;
    }
  }

  /** Closes the link fds without detaching (pinned links stay attached; unpinned ones go away). */
  release(): void {
    if (this.detached) return;
    this.detached = true;
    if (this.mode === 'tcx') for (const fd of [this.ingressLink, this.egressLink]) native().fdClose(fd);
  }

  /** Detaches both programs; idempotent, and a vanished interface counts as detached. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    if (this.mode === 'tcx') {
      for (const fd of [this.ingressLink, this.egressLink]) {
        try {
          native().linkDetach(fd);
        } catch (err) {
          if (!isErrno(err, 'ENOLINK', 'ENODEV', 'EINVAL')) throw err;
        } finally {
          native().fdClose(fd);
        }
      }
    } else {
      for (const dir of ['ingress', 'egress'] as const) {
        try {
          native().tcDetach(this.ifindex, dir, TC_HANDLE, TC_PRIORITY);
        } catch (err) {
          if (!isErrno(err, 'ENODEV', 'ENOENT')) throw err;
        }
      }
    }
  }

  /** Same as detach(). */
  [Symbol.dispose](): void {
    this.detach();
  }
}

/**
 * Attaches cil_from_container to ingress and cil_to_container to egress of ifindex (a host-side veth).
 * mode 'auto' uses tcx and falls back to clsact when the kernel rejects tcx; an explicit 'tcx' on such a
 * kernel throws NotSupportedError.
 */
export function attachEndpoint(ifindex: number, progs: EndpointProgs, mode: AttachMode | 'auto' = 'auto'): InterfaceAttachment {
  if (mode === 'clsact' || (mode === 'auto' && tcxProbe === false)) {
    native().tcAttach(ifindex, 'ingress', progs.fromContainer, TC_HANDLE, TC_PRIORITY);
    try {
      native().tcAttach(ifindex, 'egress', progs.toContainer, TC_HANDLE, TC_PRIORITY);
    } catch (err) {
      native().tcDetach(ifindex, 'ingress', TC_HANDLE, TC_PRIORITY);
      throw err;
    }
    return new InterfaceAttachment(ifindex, 'clsact', -1, -1);
  }
  let ingress: number;
  try {
    ingress = native().tcxAttach(progs.fromContainer, ifindex, 'ingress');
    tcxProbe = true;
  } catch (err) {
    if (isErrno(err, 'EINVAL', 'EOPNOTSUPP', 'E524')) {
      tcxProbe = false;
      if (mode === 'auto') return attachEndpoint(ifindex, progs, 'clsact');
      throw new NotSupportedError(`tcx attach on ifindex ${ifindex}: kernel has no tcx`, { cause: err });
    }
    throw err;
  }
  try {
    return new InterfaceAttachment(ifindex, 'tcx', ingress, native().tcxAttach(progs.toContainer, ifindex, 'egress'));
  } catch (err) {
    native().linkDetach(ingress);
    native().fdClose(ingress);
    throw err;
  }
}

/**
 * Attaches `progs` to both directions of `ifindex` and pins the links in `linkDir`; when `linkDir`
 * already holds links pinned by a previous agent, swaps the programs in place instead, so the
 * interface is never without a program. `previous` tells which happened.
 */
export function attachPinned(linkDir: string, ifindex: number, progs: EndpointProgs, mode: AttachMode | 'auto' = 'auto'): { attachment: InterfaceAttachment; previous: boolean } {
  if (existsSync(join(linkDir, 'ingress'))) {
    const attachment = InterfaceAttachment.openPinned(linkDir, ifindex);
    attachment.replace(progs);
    return { attachment, previous: true };
  }
  const attachment = attachEndpoint(ifindex, progs, mode);
  mkdirSync(linkDir, { recursive: true });
  attachment.pin(linkDir);
  return { attachment, previous: false };
}

/** Kernel attach types for cgroup programs. */
export const CgroupAttachType = { INET_INGRESS: 0, INET_EGRESS: 1, INET4_CONNECT: 10, INET4_SENDMSG: 14, INET4_RECVMSG: 19, INET4_GETPEERNAME: 29 } as const;

/** Attaches a cgroup program to a cgroup v2 directory with a link; returns the link fd (close or linkDetach). */
export function attachCgroup(progFd: number, cgroupPath: string, attachType: number): number {
  const cg = openSync(cgroupPath, 'r');
  try {
    return native().cgroupAttach(progFd, cg, attachType);
  } finally {
    closeSync(cg);
  }
}

/**
 * Attaches a cgroup program through a link pinned at `linkPath`; when a previous agent left that
 * link pinned, swaps the program in place instead. Returns whether it was already there.
 */
export function attachCgroupPinned(linkPath: string, progFd: number, cgroupPath: string, attachType: number): boolean {
  if (existsSync(linkPath)) {
    const link = native().objGet(linkPath);
    try {
      native().linkUpdate(link, progFd);
    } finally {
      native().fdClose(link);
    }
    return true;
  }
  const link = attachCgroup(progFd, cgroupPath, attachType);
  try {
    mkdirSync(join(linkPath, '..'), { recursive: true });
    native().objPin(link, linkPath);
  } finally {
    native().fdClose(link);
  }
  return false;
}
