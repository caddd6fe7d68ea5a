/** The HTTP proxy's transparent sockets from the native module (datapath/native/socket.cc). */
import net from 'node:net';
import { native } from '../../datapath/native.ts';
import type { ProxySockets } from './proxy.ts';

/** Transparent listeners and connections from any address, with the proxy's mark. */
export const nativeProxySockets: ProxySockets = {
  listen: (port, mark) => native().transparentListen('0.0.0.0', port, 'tcp', mark),
  connect: (src, dst, mark) => new net.Socket({ fd: native().transparentConnect(src.ip, src.port, dst.ip, dst.port, mark), readable: true, writable: true }),
};
