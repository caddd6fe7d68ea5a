/**
 * Ciliate's own container images, assembled from this machine's Debian packages, the Node.js runtime
 * and the checkout's build outputs (no Docker, no registry, no base image):
 *  - the agent: Node.js, the agent bundle and its slot worker, the Hubble Relay (`hubble-relay`, run
 *    by the chart's hubble-relay Deployment from this image), the datapath (native addon with libbpf,
 *    BPF objects), the CNI plugin (native relay, bundle), and the tools the agent runs (ip, iptables,
 *    mount) with their libraries, plus busybox for a shell;
 *  - the operator: Node.js and the operator bundle;
 *  - hubble-ui: Node.js, the service map's server bundle, its page and the Hubble protocol definitions.
 * Files sit below /opt/ciliate as in a checkout (bin/, build/, datapath/), so the CNI relay finds its
 * fallback and the datapath its files (CILIATE_DATAPATH_DIR).
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { addAccounts, BASE_GROUPS, BASE_USERS } from '../cluster/images/accounts.ts';
import { addBusybox } from '../cluster/images/busybox.ts';
import { addDynamicProgram } from '../cluster/images/host-binaries.ts';
import type { ImageRuntimeConfig } from '../cluster/images/oci-layout.ts';
import { Rootfs } from '../cluster/images/rootfs.ts';
import { STATIC_FILES } from '../hubble/ui/server.ts';
import type { BundleName } from './bundles.ts';
import { nodeCommand } from './node-flags.ts';
import { REPO_ROOT, VERSION } from './repo.ts';

/** Where Ciliate lives inside its images. */
export const INSTALL_DIR = '/opt/ciliate';
/** The agent image's name (upstream's agent image is `cilium`). */
export const AGENT_IMAGE = `localhost/ciliate/ciliate:${VERSION}`;
/** The operator image's name (upstream's generic operator is `operator-generic`). */
export const OPERATOR_IMAGE = `localhost/ciliate/operator-generic:${VERSION}`;

/** The service map's image (upstream's is `hubble-ui`). */
export const HUBBLE_UI_IMAGE = `localhost/ciliate/hubble-ui:${VERSION}`;

/** An image of Ciliate's: its names, files and runtime settings. */
export interface CiliateImage {
  id: 'agent' | 'operator' | 'hubble-ui';
  names: string[];
  rootfs: Rootfs;
  runtime: ImageRuntimeConfig;
}

/** The checkout's build outputs an image needs, each checked to exist. */
function built(relative: string): string {
  const path = join(REPO_ROOT, relative);
  if (!existsSync(path)) throw new Error(`${relative} is missing: run npm run build first`);
  return path;
}

/** The Node.js runtime at /usr/bin/node (the machine's, with its libraries). */
async function nodeRootfs(): Promise<Rootfs> {
  const rootfs = new Rootfs();
  addAccounts(rootfs, BASE_USERS, BASE_GROUPS);
  await addDynamicProgram(rootfs, '/usr/bin/node', realpathSync(process.execPath));
  return rootfs;
}

/** iptables of this machine's flavour (nft or legacy) with its applets and its extension modules. */
async function addIptables(rootfs: Rootfs): Promise<void> {
  const multi = realpathSync('/usr/sbin/iptables');
  await addDynamicProgram(rootfs, multi, multi);
  for (const tool of ['iptables', 'iptables-save', 'iptables-restore']) rootfs.symlink(`/usr/sbin/${tool}`, multi);
  const extensions = '/usr/lib/x86_64-linux-gnu/xtables';
  if (existsSync(extensions)) for (const f of readdirSync(extensions)) rootfs.hostFile(join(extensions, f), join(extensions, f));
}

/** The environment the images run with. */
const ENV = [
  'PATH=/opt/ciliate/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  `CILIATE_DATAPATH_DIR=${INSTALL_DIR}/datapath`,
  `CILIATE_HUBBLE_UI_DIR=${INSTALL_DIR}/hubble/ui/static`,
  'NODE_ENV=production',
];

/** The agent image from the bundles (see images/bundles.ts) and the checkout's build outputs. */
export async function agentImage(bundles: Record<BundleName, string>): Promise<CiliateImage> {
  const rootfs = await nodeRootfs();
  const opt = (p: string) => `${INSTALL_DIR}/${p}`;
  rootfs.hostFile(opt('agent.mjs'), bundles.agent).hostFile(opt('endpoint-slot-worker.mjs'), bundles['endpoint-slot-worker']);
  // The HTTP proxy, which the agent starts as a process of its own (envoy/http/proxy-supervisor.ts).
  rootfs.hostFile(opt('http-proxy.mjs'), bundles['http-proxy']);
  // The node setup the chart runs around the agent (agent/node-setup/main.ts).
  rootfs.hostFile(opt('node-setup.mjs'), bundles['node-setup']);
  // The datapath: the addon with libbpf and the rest of its libraries, and the BPF objects.
  await addDynamicProgram(rootfs, opt('datapath/native/build/Release/ciliate_bpf.node'), built('datapath/native/build/Release/ciliate_bpf.node'));
  const objects = built('datapath/bpf/build');
  for (const o of readdirSync(objects).filter((f) => f.endsWith('.o'))) rootfs.hostFile(opt(`datapath/bpf/build/${o}`), join(objects, o));
  // The Hubble Relay, as the `hubble-relay` command on PATH.
  rootfs.hostFile(opt('hubble-relay.mjs'), bundles['hubble-relay']);
  rootfs.file(opt('bin/hubble-relay'), `#!/bin/sh\nexec /usr/bin/node ${opt('hubble-relay.mjs')} "$@"\n`, 0o755);
  // The CNI plugin as a checkout lays it out: the relay execs bin/ciliate-cni, which runs the bundle.
  rootfs.hostFile(opt('build/cni/ciliate-cni'), built('build/cni/ciliate-cni')).hostFile(opt('build/ciliate-cni.mjs'), bundles['ciliate-cni']);
  const launcher = readFileSync(built('bin/ciliate-cni'), 'utf8').replace(/^#!.*\n/, '#!/bin/sh\n');
  rootfs.file(opt('bin/ciliate-cni'), launcher, 0o755);
  // What the agent runs: ip (routes, addresses), iptables (masquerade), mount (bpffs).
  await addDynamicProgram(rootfs, '/usr/sbin/ip', realpathSync('/usr/sbin/ip'));
  await addDynamicProgram(rootfs, '/usr/bin/mount', realpathSync('/usr/bin/mount'));
  await addIptables(rootfs);
  await addBusybox(rootfs);
  return { id: 'agent', names: [AGENT_IMAGE], rootfs, runtime: { entrypoint: nodeCommand('/usr/bin/node', 'agent', opt('agent.mjs')), env: ENV, workingDir: INSTALL_DIR } };
}

/** The operator image: Node.js and the operator bundle. */
export async function operatorImage(bundles: Record<BundleName, string>): Promise<CiliateImage> {
  const rootfs = (await nodeRootfs()).hostFile(`${INSTALL_DIR}/operator.mjs`, bundles.operator);
  return { id: 'operator', names: [OPERATOR_IMAGE], rootfs, runtime: { entrypoint: ['/usr/bin/node', `${INSTALL_DIR}/operator.mjs`], env: ENV, workingDir: INSTALL_DIR } };
}

/** The service map's image: Node.js, the hubble-ui bundle, its page and the protocol definitions. */
export async function hubbleUiImage(bundles: Record<BundleName, string>): Promise<CiliateImage> {
  const rootfs = (await nodeRootfs()).hostFile(`${INSTALL_DIR}/hubble-ui.mjs`, bundles['hubble-ui']);
  for (const f of Object.keys(STATIC_FILES)) rootfs.hostFile(`${INSTALL_DIR}/hubble/ui/static/${f}`, built(`hubble/ui/static/${f}`));
  return { id: 'hubble-ui', names: [HUBBLE_UI_IMAGE], rootfs, runtime: { entrypoint: ['/usr/bin/node', `${INSTALL_DIR}/hubble-ui.mjs`], env: ENV, workingDir: INSTALL_DIR } };
}
