// A route netlink socket and the link, address, route and neighbour operations the agent does on it.
// A socket acts in the network namespace it was opened in, for its whole life, whatever namespace
// the thread is in later. Every call is an in-process exchange with the kernel (no process is spawned),
// synchronous except deleteLinkAsync.
import { native } from '../native.ts';
import { inNetns } from '../netns.ts';
import { isErrno, withContext } from '../errors.ts';
import { NLM_F, NLMSG, rtmName } from './constants.ts';
import { refusalOf } from './errors.ts';
import { encodeMessage, splitMessages, type NetlinkMessage, type Request } from './message.ts';
import { createVethRequest, decodeLink, deleteLinkRequest, getLinkRequest, setLinkUpRequest, type Link, type LinkRef, type VethSpec } from './links.ts';
import { addAddressRequest, decodeAddress, dumpAddressesRequest, type Address } from './addresses.ts';
import { decodeRoute, dumpRoutesRequest, replaceRouteRequest, type Route, type RouteSpec } from './routes.ts';
import { replacePermanentNeighbourRequest, type NeighbourSpec } from './neighbours.ts';

/** How often a dump the kernel marks inconsistent (changed while it was read) is read again. */
const DUMP_ATTEMPTS = 3;

/** A NETLINK_ROUTE socket bound to one network namespace. */
export class RouteSocket {
  #fd: number | undefined;
  #seq = 0;
  /** An exchange runs on a worker thread: nothing else may read the socket meanwhile. */
  #busy = false;
  #closeWhenIdle = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens a socket in the calling thread's network namespace, or in the one at `netnsPath` (e.g. /run/netns/x). */
  static open(netnsPath?: string): RouteSocket {
    return new RouteSocket(netnsPath === undefined ? native().netlinkOpen() : inNetns(netnsPath, () => native().netlinkOpen()));
  }

  /** Runs fn with a socket opened as {@link open} does, and closes it when fn returns (or its promise settles). */
  static using<T>(netnsPath: string | undefined, fn: (socket: RouteSocket) => T): T {
    const socket = RouteSocket.open(netnsPath);
    let result: T;
    try {
      result = fn(socket);
    } catch (err) {
      socket.close();
      throw err;
    }
    if (result instanceof Promise) return result.finally(() => socket.close()) as T;
    socket.close();
    return result;
  }

  /** Closes the socket (once an exchange on a worker thread has settled); later calls throw. Closing twice is harmless. */
  close(): void {
    if (this.#busy) {
      this.#closeWhenIdle = true;
      return;
    }
    if (this.#fd !== undefined) native().fdClose(this.#fd);
    this.#fd = undefined;
  }

  /** The link named `name`, or undefined when there is none. */
  link(name: string): Link | undefined {
    try {
      return this.requireLink(name);
    } catch (err) {
      if (isErrno(err, 'ENODEV')) return undefined;
      throw err;
    }
  }

  /** The link named `name`; throws ENODEV ("RTM_GETLINK eth0: ENODEV ...") when there is none. */
  requireLink(name: string): Link {
    const [answer] = this.#exchange(getLinkRequest(name));
    if (!answer) throw new Error(`RTM_GETLINK ${name}: no answer`);
    return decodeLink(answer.body);
  }

  /** Creates a veth pair, its peer directly in another namespace when `spec.peer.netnsFd` is given. */
  createVeth(spec: VethSpec): void {
    this.#exchange(createVethRequest(spec));
  }

  /** Sets the link named `name` administratively up or down. */
  setLinkUp(name: string, up = true): void {
    this.#exchange(setLinkUpRequest(name, up));
  }

  /** Deletes the link named `name`; false when there was none. */
  deleteLink(name: string): boolean {
    try {
      this.#exchange(deleteLinkRequest(name));
      return true;
    } catch (err) {
      return missingLink(err);
    }
  }

  /**
   * {@link deleteLink} on a worker thread: the kernel answers a link deletion only after its RCU grace
   * periods (some 15 ms), which the event loop need not wait for.
   */
  async deleteLinkAsync(name: string): Promise<boolean> {
    try {
      await this.#exchangeAsync(deleteLinkRequest(name));
      return true;
    } catch (err) {
      return missingLink(err);
    }
  }

  /** Puts `cidr` ("10.0.0.5/32") on link `dev`. */
  addAddress(dev: LinkRef, cidr: string): void {
    this.#exchange(addAddressRequest(dev, cidr));
  }

  /** Adds a main-table route, replacing the one to the same destination. */
  replaceRoute(spec: RouteSpec): void {
    this.#exchange(replaceRouteRequest(spec));
  }

  /** Pins a permanent neighbour entry, replacing whatever entry the address had. */
  replacePermanentNeighbour(spec: NeighbourSpec): void {
    this.#exchange(replacePermanentNeighbourRequest(spec));
  }

  /** The IPv4 addresses of the namespace, or of link `index` only. */
  addresses(index?: number): Address[] {
    const all = this.#dump(dumpAddressesRequest()).map((m) => decodeAddress(m.body));
    return all.filter((a): a is Address => a !== undefined && (index === undefined || a.index === index));
  }

  /** The IPv4 routes of the namespace, every table. */
  routes(): Route[] {
    return this.#dump(dumpRoutesRequest()).map((m) => decodeRoute(m.body)).filter((r): r is Route => r !== undefined);
  }

  /** A dump's answers, read again while the kernel says it changed under the reading. */
  #dump(request: Request): NetlinkMessage[] {
    for (let attempt = 1; ; attempt++) {
      const answers = this.#exchange(request);
      if (!answers.some((m) => m.flags & NLM_F.DUMP_INTR) || attempt === DUMP_ATTEMPTS) return answers;
    }
  }

  /**
   * Sends one request (asking for an ack unless it is a dump) and returns its answers before the
   * ack or the dump's end; throws a NetlinkError naming the operation when the kernel refuses it.
   */
  #exchange(request: Request): NetlinkMessage[] {
    const { fd, seq, bytes, operation } = this.#prepare(request);
    let answer: Buffer;
    try {
      answer = native().netlinkTransact(fd, bytes);
    } catch (err) {
      throw withContext(err as Error, operation);
    }
    return answersOf(answer, seq, operation);
  }

  /** {@link #exchange} on a worker thread; the socket refuses other use until it settles. */
  async #exchangeAsync(request: Request): Promise<NetlinkMessage[]> {
    const { fd, seq, bytes, operation } = this.#prepare(request);
    this.#busy = true;
    let answer: Buffer;
    try {
      answer = await native().netlinkTransactAsync(fd, bytes);
    } catch (err) {
      throw withContext(err as Error, operation);
    } finally {
      this.#busy = false;
      if (this.#closeWhenIdle) this.close();
    }
    return answersOf(answer, seq, operation);
  }

  /** The socket, the next sequence number and the encoded request; throws when the socket is closed or busy. */
  #prepare(request: Request): { fd: number; seq: number; bytes: Buffer; operation: string } {
    const operation = `${rtmName(request.type)} ${request.subject}`;
    if (this.#fd === undefined || this.#closeWhenIdle) throw new Error(`${operation}: the route socket is closed`);
    if (this.#busy) throw new Error(`${operation}: the route socket is busy with an exchange on a worker thread`);
    const seq = this.#seq = (this.#seq + 1) >>> 0;
    // Bits 0x300 are DUMP only on GET requests, whose types the kernel numbers 2 modulo 4.
    const isDump = request.type % 4 === 2 && (request.flags & NLM_F.DUMP) === NLM_F.DUMP;
    const flags = request.flags | NLM_F.REQUEST | (isDump ? 0 : NLM_F.ACK);
    return { fd: this.#fd, seq, bytes: encodeMessage(request.type, flags, seq, request.body), operation };
  }
}

/** False for the kernel's ENODEV (no such link); any other error is thrown again. */
function missingLink(err: unknown): false {
  if (isErrno(err, 'ENODEV')) return false;
  throw err;
}

/** The answers of exchange `seq` in what the kernel sent, up to its ack or end; throws the kernel's refusal. */
function answersOf(bytes: Buffer, seq: number, operation: string): NetlinkMessage[] {
  const answers: NetlinkMessage[] = [];
  for (const message of splitMessages(bytes)) {
    if (message.seq !== seq) continue;
    if (message.type === NLMSG.ERROR || message.type === NLMSG.DONE) {
      const refusal = refusalOf(message, operation);
      if (refusal) throw refusal;
      return answers;
    }
    answers.push(message);
  }
  throw new Error(`${operation}: the kernel's answer ended without an ack`);
}
