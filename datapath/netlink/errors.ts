// Refusals from the kernel: an NLMSG_ERROR answer with a negative errno, or a dump's NLMSG_DONE with one.
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import type { ErrnoException } from '../errors.ts';
import { NLM_F, NLMSG, NLMSGERR_ATTR, SIZE } from './constants.ts';
import { align4, decodeAttributes } from './attributes.ts';
import type { NetlinkMessage } from './message.ts';
import { readString } from './values.ts';

/**
 * A request the kernel refused, in the shape of the native module's errors (code "EEXIST", errno
 * negative, syscall "netlink"), so isErrno() tells them apart. The message names the operation,
 * the errno and the kernel's own explanation when it gave one:
 * "RTM_NEWLINK lxc1234: EEXIST (file already exists)".
 */
export class NetlinkError extends Error implements ErrnoException {
  override readonly name = 'NetlinkError';
  readonly syscall = 'netlink';
  readonly code: string;

  /** @param errno negative, as Node reports errnos */
  constructor(readonly operation: string, readonly errno: number, readonly kernelMessage?: string) {
    const code = safeErrorName(errno);
    const text = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
    super(`${operation}: ${code} (${text}${kernelMessage ? `; kernel: ${kernelMessage}` : ''})`);
    this.code = code;
  }
}

function safeErrorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `errno ${-errno}`;
  }
}

/**
 * The refusal an exchange's last message carries, or undefined when it is an ack (NLMSG_ERROR with
 * error 0) or a dump's clean end (NLMSG_DONE). Only those two message types end an exchange.
 */
export function refusalOf(end: NetlinkMessage, operation: string): NetlinkError | undefined {
  if (end.body.length < SIZE.NLMSGERR) return undefined;
  const error = end.body.readInt32LE(0);
  if (error >= 0) return undefined;
  if (end.type !== NLMSG.ERROR) return new NetlinkError(operation, error);
  return new NetlinkError(operation, error, kernelMessageOf(end));
}

/** The extended ack's text after an error's echoed request, when the kernel wrote one. */
function kernelMessageOf(error: NetlinkMessage): string | undefined {
  if (!(error.flags & NLM_F.ACK_TLVS)) return undefined;
  const echoedLen = error.body.length >= SIZE.NLMSGERR + SIZE.NLMSGHDR ? error.body.readUInt32LE(SIZE.NLMSGERR) : 0;
  const echoed = error.flags & NLM_F.CAPPED ? SIZE.NLMSGHDR : align4(echoedLen);
  const msg = decodeAttributes(error.body.subarray(SIZE.NLMSGERR + echoed)).get(NLMSGERR_ATTR.MSG);
  return msg ? readString(msg) : undefined;
}
