/**
 * Debian's headless Chromium driven by playwright-core, for the pages Ciliate serves. scripts/setup.sh
 * installs the `chromium` package; without it a single file run skips, while CI (CI=true) and the
 * whole suite (scripts/test.sh, CILIATE_BUILD_IMAGES=1, after setup) fail.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a browser that talks to nothing but the pages it is sent to. */
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Whether the test may run: true with Chromium; without it false (skip), or throws in CI and whole-suite runs. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true' || process.env.CILIATE_BUILD_IMAGES === '1') throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs the chromium package`);
  return false;
}

/** A headless browser with a fresh profile (removed by `close`). */
export async function launchChromium(viewport = { width: 1440, height: 900 }): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'ciliate-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
