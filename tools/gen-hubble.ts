/**
 * Generates Hubble's gRPC code from Ciliate's own `.proto` files (hubble/proto/) at build time:
 * hubble/gen/descriptor.json, the resolved definitions every server and client loads without
 * parsing `.proto` text at run time (bundles carry it inside), and hubble/gen/types/, TypeScript
 * types of every message and service. Run by `npm run build` (`npm run gen:hubble`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The loader's own include handling (google/protobuf well-known types), the same the types generator uses.
import { loadProtosWithOptionsSync } from '@grpc/proto-loader/build/src/util.js';
import { HUBBLE_PROTO_FILES, HUBBLE_LOADER_OPTIONS } from '../hubble/proto-files.ts';

const repo = join(import.meta.dirname, '..');
const protoDir = join(repo, 'hubble', 'proto');
const outDir = join(repo, 'hubble', 'gen');

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const root = loadProtosWithOptionsSync(HUBBLE_PROTO_FILES, { ...HUBBLE_LOADER_OPTIONS, includeDirs: [protoDir] });
writeFileSync(join(outDir, 'descriptor.json'), JSON.stringify(root.toJSON({ keepComments: false })));
execFileSync(join(repo, 'node_modules', '.bin', 'proto-loader-gen-types'), [
  '--keepCase', '--longs=Number', '--enums=String', '--defaults=false', '--oneofs', '--grpcLib=@grpc/grpc-js', '--importFileExtension=.ts',
  '-I', protoDir, '-O', join(outDir, 'types'), ...HUBBLE_PROTO_FILES,
], { stdio: 'inherit' });
