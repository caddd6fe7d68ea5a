/** The repository the images are built from, and its version. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root folder. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** package.json's version: the images' tag. */
export const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
