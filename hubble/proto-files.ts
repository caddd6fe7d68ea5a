/** Which `.proto` files make up Hubble's API and how they are loaded: shared by the generator and the loader. */
import type { Options } from '@grpc/proto-loader';

/** Every `.proto` file of the API, relative to hubble/proto/. */
export const HUBBLE_PROTO_FILES = ['flow/flow.proto', 'relay/relay.proto', 'observer/observer.proto', 'peer/peer.proto', 'grpc/health/v1/health.proto'];

/** Messages as plain objects with the protos' field names, enums as names, 64-bit integers as numbers. */
export const HUBBLE_LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true };
