/**
 * Which node images a test run may build: the Go-built ones (agnhost, coredns) take minutes when their
 * binary is not cached yet, so they are built only when CI=true or CILIATE_BUILD_IMAGES=1.
 */
import { builtToolchain } from '../../cluster/toolchain.ts';
import { NODE_IMAGES, type NodeImageId } from '../../cluster/images/index.ts';

/** Whether this run builds missing Go binaries for images. */
export function buildsGoImages(): boolean {
  return process.env.CI === 'true' || process.env.CILIATE_BUILD_IMAGES === '1';
}

/** Why image `id` is skipped in this run, or undefined when it can be built without a Go build. */
export async function imageSkipReason(id: NodeImageId): Promise<string | undefined> {
  const target = NODE_IMAGES.find((i) => i.id === id)!.goTarget;
  if (!target || buildsGoImages() || (await builtToolchain(target))) return undefined;
  return `the ${id} binary is not built yet (minutes: run \`bash cluster/toolchain/build.sh ${target}\` or set CILIATE_BUILD_IMAGES=1)`;
}

/** The node images this run can build. */
export async function buildableImages(): Promise<NodeImageId[]> {
  const out: NodeImageId[] = [];
  for (const image of NODE_IMAGES) if (!(await imageSkipReason(image.id))) out.push(image.id);
  return out;
}
