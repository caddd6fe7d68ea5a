/**
 * A start-up probe of the kernel: Ciliate's endpoint object loaded once, unpinned, with its large
 * maps made small, and released. It fails exactly where the real load would (a program type, helper
 * or map type the kernel lacks, the verifier's verdict, or missing privileges), before anything is
 * pinned or attached.
 */
import { loadEndpoint } from './loader.ts';

/** Map sizes small enough that the probe costs the kernel little memory. */
const PROBE_SIZES: Readonly<Record<string, number>> = { cilium_ct4_global: 1024, cilium_drop_aggr: 64 };

/** Loads and releases the endpoint datapath; throws what the kernel said. */
export function probeEndpointDatapath(): void {
  loadEndpoint({ endpointId: 0, identity: 1 }, { maxEntries: PROBE_SIZES }).close();
}
