/**
 * Where the datapath's built files (BPF objects, the native module) are: beside this module in a
 * checkout, or in CILIATE_DATAPATH_DIR when the code runs bundled (the container images set it,
 * since a bundle no longer sits in the datapath folder).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding `bpf/build/` and `native/build/Release/`. */
export const DATAPATH_DIR = process.env.CILIATE_DATAPATH_DIR || dirname(fileURLToPath(import.meta.url));

/** A built file of the datapath, by its path below {@link DATAPATH_DIR}. */
export function datapathFile(relative: string): string {
  return join(DATAPATH_DIR, relative);
}
