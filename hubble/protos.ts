/**
 * Hubble's gRPC services from Ciliate's own `.proto` files (hubble/proto/), loaded at run time.
 * Messages are plain objects with the protos' field names (snake_case as written), enums as their
 * names and 64-bit integers as numbers: the shapes in flow-types.ts.
 */
import { join } from 'node:path';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type EnumTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';

/** The folder of Ciliate's Hubble `.proto` files: beside this module, or CILIATE_HUBBLE_PROTO_DIR when bundled. */
export const PROTO_DIR = process.env.CILIATE_HUBBLE_PROTO_DIR || join(import.meta.dirname, 'proto');

/** Every `.proto` file of the server, relative to {@link PROTO_DIR}. */
export const PROTO_FILES = ['flow/flow.proto', 'relay/relay.proto', 'observer/observer.proto', 'peer/peer.proto', 'grpc/health/v1/health.proto'];

/** The services Ciliate's Hubble server offers. */
export interface HubbleServices {
  observer: ServiceDefinition;
  peer: ServiceDefinition;
  health: ServiceDefinition;
}

let definition: PackageDefinition | undefined;
let loaded: HubbleServices | undefined;
let dropReasons: Map<number, string> | undefined;

/** The parsed `.proto` files (once). */
function packageDefinition(): PackageDefinition {
  definition ??= loadSync(PROTO_FILES, {
    includeDirs: [PROTO_DIR], keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true,
  });
  return definition;
}

/** The flow.DropReason name of a drop code (the number itself when the enum has no name for it). */
export function dropReasonName(code: number): string | number {
  if (!dropReasons) {
    const e = packageDefinition()['flow.DropReason'] as EnumTypeDefinition;
    dropReasons = new Map((e.type as { value: { name: string; number: number }[] }).value.map((v) => [v.number, v.name]));
  }
  return dropReasons.get(code) ?? code;
}

/** Loads (once) the service definitions. */
export function hubbleServices(): HubbleServices {
  if (loaded) return loaded;
  const pkg = loadPackageDefinition(packageDefinition());
  const service = (path: string): ServiceDefinition => {
    let node: unknown = pkg;
    for (const part of path.split('.')) node = (node as GrpcObject)[part];
    return (node as { service: ServiceDefinition }).service;
  };
  loaded = { observer: service('observer.Observer'), peer: service('peer.Peer'), health: service('grpc.health.v1.Health') };
  return loaded;
}
