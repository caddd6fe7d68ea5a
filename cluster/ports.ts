/**
 * The TCP ports of a local cluster. Each cluster slot (see network.ts) owns a block of ports, so
 * clusters holding different slots never choose the same port. The blocks lie below the kernel's
 * ephemeral range (32768 and up), where no outgoing connection takes a port, and below the
 * Kubernetes NodePort range (30000-32767).
 */
import { createServer } from 'node:net';

/** The first port of slot 0's block. */
const SLOT_PORT_BASE = 20000;

/**
 * The ports of a slot's block, in block order. `apiserver` and `loopback` serve when 6443 is taken;
 * `hubbleRelay` is the local Hubble Relay's own (4245 is forwarded to it when free).
 */
const SLOT_PORT_NAMES = ['etcdClient', 'etcdPeer', 'controllerManager', 'scheduler', 'operatorMetrics', 'operatorHealth', 'apiserver', 'loopback', 'hubbleRelay'] as const;

/** The ports a cluster slot owns, by use. */
export type SlotPorts = Record<(typeof SLOT_PORT_NAMES)[number], number>;

/** The block of ports owned by cluster slot `slot`. */
export function slotPorts(slot: number): SlotPorts {
  const first = SLOT_PORT_BASE + slot * SLOT_PORT_NAMES.length;
  return Object.fromEntries(SLOT_PORT_NAMES.map((name, i) => [name, first + i])) as SlotPorts;
}

/** Whether nothing listens on `port` of `host` (a wildcard listener counts). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Whether every port of slot `slot`'s block is free on loopback. */
export async function slotPortsFree(slot: number): Promise<boolean> {
  for (const port of Object.values(slotPorts(slot))) if (!(await portFree(port))) return false;
  return true;
}

/** Returns `preferred` when it is free on `host`, otherwise `fallback`. */
export async function preferredPort(preferred: number, host: string, fallback: number): Promise<number> {
  return (await portFree(preferred, host)) ? preferred : fallback;
}
