/** /etc/passwd and /etc/group of an image. */
import type { Rootfs } from './rootfs.ts';

/** A user account of the image. */
export interface ImageUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** A group of the image, with its supplementary members. */
export interface ImageGroup {
  name: string;
  gid: number;
  members?: string[];
}

/** The accounts every image has: root and nobody/nogroup. */
export const BASE_USERS: ImageUser[] = [
  { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
  { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/bin/false' },
];
/** The groups every image has. */
export const BASE_GROUPS: ImageGroup[] = [
  { name: 'root', gid: 0 },
  { name: 'nogroup', gid: 65534 },
];

/** Writes /etc/passwd and /etc/group listing `users` and `groups`, in that order. */
export function addAccounts(rootfs: Rootfs, users: ImageUser[], groups: ImageGroup[]): void {
  rootfs.file('/etc/passwd', users.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.name}:${u.home}:${u.shell}\n`).join(''));
  rootfs.file('/etc/group', groups.map((g) => `${g.name}:x:${g.gid}:${(g.members ?? []).join(',')}\n`).join(''));
}
