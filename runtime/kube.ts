/**
 * API-server-backed adapters of the runtime, built on @kubernetes/client-node: list/watch
 * sources and informers, the Lease client, the Event sink, the status writer and raw requests.
 * Importing this module loads client-node.
 */
export * from './kube-event-sink.ts';
export * from './kube-lease-client.ts';
export * from './kube-list-watch.ts';
export * from './kube-request.ts';
export * from './kube-status-writer.ts';
