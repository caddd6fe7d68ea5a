/**
 * The Node.js flags a bundle runs with, wherever it runs as users run it: the images' entrypoints
 * (images/ciliate-images.ts), the chart's commands (charts/ciliate/templates/) and the local
 * cluster's bundled mode (cluster/components.ts); test/images/ checks all three.
 *
 * The agent: `--max-semi-space-size=2` (MiB). V8 grows each of the young generation's two
 * semi-spaces up to 16 MiB by default once a program allocates steadily, and keeps them: tens of
 * MiB resident for objects that die young. The agent's allocations in bursts (a watch event, a CNI
 * request, a batch of flows) are short-lived and small, and the flows a Hubble ring keeps are
 * deferred records (hubble/ring.ts), so 2 MiB semi-spaces only scavenge more often, each scavenge
 * costing what survives, not what died. No `--max-old-space-size`: what the agent keeps is bounded
 * by its own limits (ring capacity, map sizes, caches), and a V8 cap below what a large cluster
 * needs would turn a busy agent into a restart loop; the pod's memory limit is the place for a
 * ceiling, which the chart leaves to the installer.
 */
import type { BundleName } from './bundles.ts';

/** Flags before the bundle's path, per bundle (none for a bundle not listed). */
export const NODE_FLAGS: Partial<Record<BundleName, readonly string[]>> = {
  agent: ['--max-semi-space-size=2'],
};

/** The command that runs `bundle` from `file`: node, its flags, the file. */
export function nodeCommand(node: string, bundle: BundleName, file: string): string[] {
  return [node, ...(NODE_FLAGS[bundle] ?? []), file];
}
