// Typed surface of the native module (datapath/native): fds and syscalls only. Everything here throws
// fs-style errors (code, errno, syscall); see errors.ts for the sentinels built on them.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { datapathFile } from './assets.ts';

/** A map as libbpf describes it inside an object (fd is -1 before load). */
export interface NativeMapDesc {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  fd: number;
}

/** A program inside an object (fd is -1 before load). */
export interface NativeProgDesc {
  name: string;
  section: string;
  type: number;
  fd: number;
}

/** Kernel-reported facts about a map fd. */
export interface NativeMapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** Options for BPF_PROG_TEST_RUN. */
export interface TestRunOptions {
  repeat?: number;
  ctx?: Buffer;
  dataOutSize?: number;
  ctxOutSize?: number;
}

/** Result of BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  retval: number;
  durationNs: number;
  data: Buffer;
  ctx?: Buffer;
}

/** Ring buffer reader living in Node's event loop. */
export interface NativeRingReader {
  /** Drains up to the batch limit now; calls onBatch once if anything was read; returns records read. */
  consume(): number;
  /** Also drain whenever the kernel wakes the ring's epoll fd. */
  start(): void;
  /** Stops polling and frees the reader. */
  close(): void;
}

/** Constructor of NativeRingReader: onBatch gets records as [u32 len][u32 0][record][pad to 8]. */
export type RingReaderCtor = new (
  mapFd: number,
  onBatch: (batch: Buffer, count: number) => void,
  maxBatchBytes?: number,
) => NativeRingReader;

/** A transparent UDP socket reporting each datagram's original destination (see udp-origdst.cc). */
export interface NativeOrigDstUdp {
  /** Sends `data` to toIp:toPort from fromIp:fromPort (an address that need not be the node's). */
  sendFrom(fromIp: string, fromPort: number, toIp: string, toPort: number, data: Buffer): void;
  /** The bound port. */
  port(): number;
  /** Stops reading and closes the socket. */
  close(): void;
}

/**
 * Constructor of NativeOrigDstUdp: binds ip:port ('' = any) with IP_TRANSPARENT and SO_MARK `mark`
 * (0: none) and calls `onDatagram` with each datagram, its source and original destination.
 */
export type OrigDstUdpCtor = new (
  ip: string, port: number, mark: number,
  onDatagram: (data: Buffer, srcIp: string, srcPort: number, dstIp: string, dstPort: number) => void,
) => NativeOrigDstUdp;

/** The complete native API. */
export interface NativeApi {
  objOpen(path: string): number;
  objMaps(handle: number): NativeMapDesc[];
  objProgs(handle: number): NativeProgDesc[];
  objSetInitialValue(handle: number, mapName: string, offset: number, bytes: Buffer): void;
  objReuseMapFd(handle: number, mapName: string, fd: number): void;
  objSetMaxEntries(handle: number, mapName: string, maxEntries: number): void;
  objLoad(handle: number): void;
  objClose(handle: number): void;

  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapDump(fd: number, keySize: number, valueSize: number, max: number): { keys: Buffer; values: Buffer; count: number };
  /** How many keys the map holds (at most `max`), walked on a worker thread. */
  mapCountAsync(fd: number, keySize: number, max: number): Promise<number>;
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number, flags?: number): number;
  mapDeleteBatch(fd: number, keys: Buffer, count: number): number;
  mapUpdateEach(fd: number, keys: Buffer, values: Buffer, count: number, flags?: number): number;
  mapDeleteEach(fd: number, keys: Buffer, count: number): number;
  mapInfo(fd: number): NativeMapInfo;
  objPin(fd: number, path: string): void;
  objGet(path: string): number;
  fdDup(fd: number): number;
  fdClose(fd: number): void;
  possibleCpus(): number;

  progTestRun(fd: number, data: Buffer, opts?: TestRunOptions): TestRunResult;
  progInfo(fd: number): { id: number; type: number; name: string; runTimeNs: number; runCount: number };

  tcxAttach(progFd: number, ifindex: number, dir: 'ingress' | 'egress'): number;
  cgroupAttach(progFd: number, cgroupFd: number, attachType: number): number;
  linkUpdate(linkFd: number, progFd: number): void;
  linkDetach(linkFd: number): void;
  tcAttach(ifindex: number, dir: 'ingress' | 'egress', progFd: number, handle: number, priority: number): void;
  tcDetach(ifindex: number, dir: 'ingress' | 'egress', handle: number, priority: number): void;
  setNetns(nsFd: number): void;
  /**
   * A new network namespace bind-mounted at path (like `ip netns add`; its folder is made a shared
   * mount); EEXIST when path is taken. The calling thread is back in its own namespace afterwards.
   */
  netnsCreate(path: string): void;

  /** A NETLINK_ROUTE socket in the calling thread's network namespace (kept for its life); close with fdClose. */
  netlinkOpen(): number;
  /**
   * Sends request (netlink messages; the first one's sequence number names the exchange, which must
   * ask for an ack or be a dump) and returns every byte received until that exchange's NLMSG_DONE or
   * NLMSG_ERROR, answers of earlier exchanges included.
   */
  netlinkTransact(fd: number, request: Buffer): Buffer;
  /** netlinkTransact on a worker thread; the socket must not be used otherwise until the promise settles. */
  netlinkTransactAsync(fd: number, request: Buffer): Promise<Buffer>;

  /**
   * A bound IP_TRANSPARENT socket (listening when TCP) with SO_MARK `mark`, for a proxy port the
   * node's TPROXY rule hands flows to; returns its non-blocking fd (adopt it with net.Server).
   */
  transparentListen(ip: string, port: number, proto: 'tcp' | 'udp', mark: number): number;
  /**
   * A non-blocking TCP socket with SO_MARK `mark`, bound to `srcIp`:`srcPort` (any address; '' = the
   * node's choice; port 0 = any), its connect to dstIp:dstPort under way; returns the fd (adopt it
   * with net.Socket).
   */
  transparentConnect(srcIp: string, srcPort: number, dstIp: string, dstPort: number, mark: number): number;

  RingReader: RingReaderCtor;
  OrigDstUdp: OrigDstUdpCtor;
}

/** Path of the compiled addon (built by `npm run build:native`). */
export const NATIVE_PATH = datapathFile('native/build/Release/ciliate_bpf.node');

let cached: NativeApi | undefined;

/** Loads the addon once; throws with a build hint when it has not been built. */
export function native(): NativeApi {
  if (cached) return cached;
  if (!existsSync(NATIVE_PATH)) throw new Error(`native datapath module missing at ${NATIVE_PATH}: run npm run build:datapath`);
  cached = createRequire(import.meta.url)(NATIVE_PATH) as NativeApi;
  return cached;
}

/** True when the addon has been built. */
export function nativeAvailable(): boolean {
  return existsSync(NATIVE_PATH);
}
