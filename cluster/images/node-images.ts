/**
 * The images real nodes import into containerd (there is no registry): what each holds and the
 * names it carries, which are the names upstream manifests, the kubelet and the e2e suite ask for.
 */
import { join } from 'node:path';
import type { ToolchainTarget } from '../toolchain.ts';
import { addAccounts, BASE_GROUPS, BASE_USERS } from './accounts.ts';
import { addBusybox } from './busybox.ts';
import { addDynamicProgram } from './host-binaries.ts';
import { kubernetesSourceDir } from './kubernetes-source.ts';
import type { ImageRuntimeConfig } from './oci-layout.ts';
import { Rootfs } from './rootfs.ts';
import { staticProgram } from './static-programs.ts';

/** Where Debian's netcat-openbsd package puts its nc. */
export const HOST_NETCAT = '/usr/bin/nc.openbsd';
/** Debian's POSIX shell (an essential package: always there). */
export const HOST_DASH = '/usr/bin/dash';

/** The node images by short name. */
export type NodeImageId = 'pause' | 'agnhost' | 'busybox' | 'deathstar' | 'json-mock' | 'coredns';

/** The names each image is imported under. */
export const IMAGE_NAMES: Readonly<Record<NodeImageId, readonly string[]>> = {
  /** The pod sandbox image kubelet 1.33 and containerd's `sandbox_image` name. */
  pause: ['registry.k8s.io/pause:3.10'],
  /** The e2e suite's test image (1.33's test/utils/image/manifest.go says 2.53; cyclonus asks for 2.43). */
  agnhost: ['registry.k8s.io/e2e-test-images/agnhost:2.53', 'registry.k8s.io/e2e-test-images/agnhost:2.43'],
  /** A shell for tests and demos (Debian's busybox 1.35), also under the e2e suite's busybox name. */
  busybox: ['docker.io/library/busybox:1.35', 'registry.k8s.io/e2e-test-images/busybox:1.36.1-1'],
  /** The star-wars demo's deathstar. */
  deathstar: ['quay.io/cilium/starwars:v2.1'],
  /** The star-wars demo's ships (tiefighter, xwing): busybox and curl. */
  'json-mock': ['quay.io/cilium/json-mock:v1.3.8'],
  /** The cluster DNS of Kubernetes 1.33. */
  coredns: ['registry.k8s.io/coredns/coredns:v1.12.0'],
};

/** What an image's assembly may use. */
export interface ImageBuildContext {
  /** The image cache folder (compiled programs live in its `programs` folder). */
  cacheDir: string;
  /** The bin folder of a cluster/toolchain/build.sh target, built first when missing. */
  toolchain(target: ToolchainTarget): Promise<string>;
}

/** An image's file tree and runtime settings. */
export interface ImageContent {
  rootfs: Rootfs;
  runtime: ImageRuntimeConfig;
}

/** How one node image is made. */
export interface NodeImage {
  id: NodeImageId;
  names: readonly string[];
  /** The build.sh target providing the image's Go binary (minutes to build when not cached), if any. */
  goTarget?: ToolchainTarget;
  assemble(ctx: ImageBuildContext): Promise<ImageContent>;
}

/**
 * A rootfs with the given accounts (by default the base ones), the programs `tools` adds, then busybox,
 * whose applets fill only the paths the tools left free.
 */
async function shellRootfs(users = BASE_USERS, groups = BASE_GROUPS, tools?: (rootfs: Rootfs) => Promise<void>): Promise<Rootfs> {
  const rootfs = new Rootfs();
  addAccounts(rootfs, users, groups);
  await tools?.(rootfs);
  await addBusybox(rootfs);
  return rootfs;
}

/**
 * Where agnhost's tools must differ from Debian's busybox to behave as upstream's image does: OpenBSD
 * netcat as `nc` (upstream has Alpine's; the e2e suite's reachability checks run `nc -v -t|-u -w 2`,
 * options busybox's nc lacks), and Debian's dash as /bin/sh, because Debian's busybox shell runs its
 * own applets before anything on PATH: `sh -c 'nc ...'` would never reach the netcat otherwise.
 */
async function addAgnhostTools(rootfs: Rootfs): Promise<void> {
  await addDynamicProgram(rootfs, '/bin/sh', HOST_DASH);
  await addDynamicProgram(rootfs, '/usr/bin/nc', HOST_NETCAT);
}

/** Debian's curl with its shared libraries, and name resolution through /etc/hosts then DNS. */
async function addCurl(rootfs: Rootfs): Promise<void> {
  await addDynamicProgram(rootfs, '/usr/bin/curl', '/usr/bin/curl');
  rootfs.file('/etc/nsswitch.conf', 'hosts: files dns\n');
}

const pause: NodeImage = {
  id: 'pause',
  names: IMAGE_NAMES.pause,
  async assemble(ctx) {
    const rootfs = new Rootfs().hostFile('/pause', await staticProgram('pause', ctx.cacheDir));
    return { rootfs, runtime: { entrypoint: ['/pause'] } };
  },
};

/**
 * agnhost as upstream's image lays it out: /agnhost (and /agnhost-2 for the entrypoint tests), porter's
 * TLS files, /uploads for netexec, the user and group the supplemental-groups tests look for; with
 * busybox for the shell tools, dash as /bin/sh, and curl and OpenBSD netcat, which many e2e tests run in it.
 */
const agnhost: NodeImage = {
  id: 'agnhost',
  names: IMAGE_NAMES.agnhost,
  goTarget: 'agnhost',
  async assemble(ctx) {
    const bin = await ctx.toolchain('agnhost');
    const porter = join(await kubernetesSourceDir(), 'test', 'images', 'agnhost', 'porter');
    const rootfs = (await shellRootfs(
      [...BASE_USERS, { name: 'user-defined-in-image', uid: 1000, gid: 1000, home: '/home/user-defined-in-image', shell: '/bin/sh' }],
      [...BASE_GROUPS, { name: 'user-defined-in-image', gid: 1000 }, { name: 'group-defined-in-image', gid: 50000, members: ['user-defined-in-image'] }],
      addAgnhostTools,
    ))
      .hostFile('/agnhost', join(bin, 'agnhost'))
      .symlink('/agnhost-2', 'agnhost')
      .hostFile('/localhost.crt', join(porter, 'localhost.crt'))
      .hostFile('/localhost.key', join(porter, 'localhost.key'))
      .dir('/uploads')
      .dir('/home/user-defined-in-image');
    await addCurl(rootfs);
    return { rootfs, runtime: { entrypoint: ['/agnhost'], cmd: ['pause'], exposedPorts: ['80/tcp', '8080/tcp', '8081/tcp', '9376/tcp', '5000/tcp'] } };
  },
};

const busybox: NodeImage = {
  id: 'busybox',
  names: IMAGE_NAMES.busybox,
  async assemble() {
    return { rootfs: await shellRootfs(), runtime: { cmd: ['sh'] } };
  },
};

/** The deathstar server of programs/deathstar.c on port 80, with busybox for `kubectl exec`. */
const deathstar: NodeImage = {
  id: 'deathstar',
  names: IMAGE_NAMES.deathstar,
  async assemble(ctx) {
    const rootfs = (await shellRootfs()).hostFile('/deathstar', await staticProgram('deathstar', ctx.cacheDir));
    return { rootfs, runtime: { entrypoint: ['/deathstar'], exposedPorts: ['80/tcp'] } };
  },
};

/**
 * The ships: busybox and curl. By default it waits for SIGTERM (the pause program, which as PID 1
 * ends promptly on it, where `sleep` would make every pod deletion wait out its grace period).
 */
const jsonMock: NodeImage = {
  id: 'json-mock',
  names: IMAGE_NAMES['json-mock'],
  async assemble(ctx) {
    const rootfs = (await shellRootfs()).hostFile('/usr/local/bin/pause', await staticProgram('pause', ctx.cacheDir));
    await addCurl(rootfs);
    return { rootfs, runtime: { cmd: ['/usr/local/bin/pause'] } };
  },
};

const coredns: NodeImage = {
  id: 'coredns',
  names: IMAGE_NAMES.coredns,
  goTarget: 'coredns',
  async assemble(ctx) {
    const rootfs = new Rootfs().hostFile('/coredns', join(await ctx.toolchain('coredns'), 'coredns'));
    addAccounts(rootfs, BASE_USERS, BASE_GROUPS);
    return { rootfs, runtime: { entrypoint: ['/coredns'], exposedPorts: ['53/tcp', '53/udp', '9153/tcp'] } };
  },
};

/** Every node image, in build order (the ones without a Go build first). */
export const NODE_IMAGES: readonly NodeImage[] = [pause, busybox, deathstar, jsonMock, agnhost, coredns];
