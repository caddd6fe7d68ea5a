/**
 * Writes the CRD YAML files and crds/types.generated.ts from crds/definitions.ts.
 * `tsx crds/generate.ts --check` writes nothing and exits 1 when a checked-in file is stale.
 */
import { readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll } from './render.ts';
import { generateTypes } from './typegen.ts';

/** The folder the generated files live in. */
export const CRD_DIR = dirname(fileURLToPath(import.meta.url));

/** Every generated file: its path and its expected text. */
export function expectedFiles(): { path: string; text: string }[] {
  return [
    ...renderAll().map(({ file, text }) => ({ path: join(CRD_DIR, file), text })),
    { path: join(CRD_DIR, 'types.generated.ts'), text: generateTypes() },
  ];
}

/** Paths of generated files that are missing, stale, or left over from a removed CRD. */
export function staleFiles(): string[] {
  const expected = expectedFiles();
  const stale = expected.filter(({ path, text }) => {
    try { return readFileSync(path, 'utf8') !== text; } catch { return true; }
  }).map((f) => f.path);
  const known = new Set(expected.map((f) => f.path));
  for (const f of readdirSync(CRD_DIR)) if (f.endsWith('.yaml') && !known.has(join(CRD_DIR, f))) stale.push(join(CRD_DIR, f));
  return stale;
}

function main(): void {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length) {
      console.error(`stale generated files (run npm run gen:crds):\n  ${stale.join('\n  ')}`);
      process.exit(1);
    }
    return;
  }
  const expected = expectedFiles();
  const known = new Set(expected.map((f) => f.path));
  for (const f of readdirSync(CRD_DIR)) if (f.endsWith('.yaml') && !known.has(join(CRD_DIR, f))) unlinkSync(join(CRD_DIR, f));
  for (const { path, text } of expected) writeFileSync(path, text);
  console.log(`wrote ${expected.length} files in ${CRD_DIR}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
