/** A shell and the usual command-line tools for an image: Debian's statically linked busybox. */
import { existsSync, readFileSync } from 'node:fs';
import { run } from '../../runtime/exec.ts';
import { isStaticElf } from './host-binaries.ts';
import type { Rootfs } from './rootfs.ts';

/** wget with a working -T (Debian's busybox applet crashes on it): see the script's header. */
const WGET_WITH_TIMEOUT = readFileSync(new URL('./scripts/wget-timeout.sh', import.meta.url), 'utf8');

/** Where Debian's busybox-static package puts busybox. */
export const HOST_BUSYBOX = '/bin/busybox';

/**
 * Adds /bin/busybox and a symlink to it for each of its applets (sh, wget, nc, ip, ping, nslookup,
 * sleep, ...) at the path busybox itself lists, skipping paths the image already has, plus the folders
 * a shell session expects (/tmp sticky and world-writable, /root, /var/tmp). `wget` is a small script
 * that gives it the -T option Debian's build lacks.
 */
export async function addBusybox(rootfs: Rootfs): Promise<void> {
  if (!existsSync(HOST_BUSYBOX) || !isStaticElf(HOST_BUSYBOX)) {
    throw new Error(`${HOST_BUSYBOX} is missing or not statically linked: apt-get install busybox-static`);
  }
  rootfs.hostFile('/bin/busybox', HOST_BUSYBOX);
  rootfs.file('/usr/bin/wget', WGET_WITH_TIMEOUT, 0o755);
  const applets = (await run(HOST_BUSYBOX, ['--list-full'])).split('\n').filter(Boolean);
  for (const applet of applets) {
    const path = `/${applet}`;
    if (path !== '/bin/busybox' && !rootfs.has(path)) rootfs.symlink(path, '/bin/busybox');
  }
  rootfs.dir('/tmp', 0o1777).dir('/var/tmp', 0o1777).dir('/root', 0o700);
}
