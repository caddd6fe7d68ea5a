/**
 * Hubble's gRPC services from the definitions generated at build time out of Ciliate's own `.proto`
 * files (tools/gen-hubble.ts → hubble/gen/). Messages are plain objects with the protos' field names
 * (snake_case as written), enums as their names and 64-bit integers as numbers: the shapes in
 * flow-types.ts, typed in full by hubble/gen/types/.
 */
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { fromJSON, type EnumTypeDefinition, type PackageDefinition } from '@grpc/proto-loader';
import descriptor from './gen/descriptor.json' with { type: 'json' };
import type { DropReason } from './gen/types/flow/DropReason.ts';
import { HUBBLE_LOADER_OPTIONS } from './proto-files.ts';

/** The services Ciliate's Hubble server offers. */
export interface HubbleServices {
  observer: ServiceDefinition;
  peer: ServiceDefinition;
  health: ServiceDefinition;
}

let definition: PackageDefinition | undefined;
let loaded: HubbleServices | undefined;
let dropReasons: Map<number, DropReason> | undefined;

/** The generated definitions (once). */
function packageDefinition(): PackageDefinition {
  definition ??= fromJSON(descriptor as Parameters<typeof fromJSON>[0], HUBBLE_LOADER_OPTIONS);
  return definition;
}

/** The flow.DropReason name of a drop code (the number itself when the enum has no name for it). */
export function dropReasonName(code: number): DropReason {
  if (!dropReasons) {
    const e = packageDefinition()['flow.DropReason'] as EnumTypeDefinition;
    dropReasons = new Map((e.type as { value: { name: string; number: number }[] }).value.map((v) => [v.number, v.name as DropReason]));
  }
  return dropReasons.get(code) ?? (code as DropReason);
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
