/** Picks free TCP ports on a local address. */
import { createServer } from 'node:net';

/** Asks the kernel for a free port on `host` and returns it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Returns `preferred` when it is free on `host`, otherwise any free port. */
export async function preferredPort(preferred: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(freePort(host)));
    srv.listen(preferred, host, () => srv.close(() => resolve(preferred)));
  });
}
