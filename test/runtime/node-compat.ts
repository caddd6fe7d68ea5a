// Test-only: lets @kubernetes/client-node load on Node 20.
// client-node 2.x depends on undici 8, whose module top level calls
// zlib.createZstdDecompress.bind(...), which only exists on Node >= 22.15. We stub it (it is only
// used to decode zstd responses, which the API server never sends) before client-node is loaded.
// Import this module first, then load client-node (or runtime/kube-*.ts) with dynamic import().
import zlib from 'node:zlib';

const z = zlib as unknown as Record<string, unknown>;
if (typeof z.createZstdDecompress !== 'function') {
  z.createZstdDecompress = () => {
    throw new Error('zstd decompression is not available on this Node version');
  };
}
