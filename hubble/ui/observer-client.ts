/**
 * A client of Hubble's observer.Observer service (an agent's socket or the relay, same API): followed
 * GetFlows streams and GetNamespaces, over Ciliate's own `.proto` files.
 */
import { credentials, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Flow, GetFlowsRequest } from '../flow-types.ts';
import { hubbleClients } from '../clients.ts';

/** A GetFlows response: a flow, or lost events, or a node status. */
export interface GetFlowsResponse {
  flow?: Flow;
  lost_events?: { source: string; num_events_lost: number };
  node_name?: string;
}

type ObserverStub = Client & {
  GetFlows(req: GetFlowsRequest): ClientReadableStream<GetFlowsResponse>;
  GetNamespaces(req: object, cb: (err: ServiceError | null, res?: { namespaces?: { namespace: string }[] }) => void): void;
};

/**
 * The gRPC target of a Hubble server address as the `hubble` CLI takes it (`unix:///path`,
 * `host:port`, `dns:///host:port`); a bare path is a unix socket.
 */
export function grpcTarget(address: string): string {
  if (!address) throw new Error('hubble-server: an address is required (unix:///path/hubble.sock or host:port)');
  return address.startsWith('/') ? `unix://${address}` : address;
}

/** A connection to one Observer. */
export class ObserverClient {
  private readonly stub: ObserverStub;

  /** Connects lazily to `address` (see {@link grpcTarget}); insecure, as the agents' and relay's plain ports. */
  constructor(readonly address: string) {
    this.stub = new (hubbleClients().observer)(grpcTarget(address), credentials.createInsecure()) as unknown as ObserverStub;
  }

  /**
   * Streams GetFlows responses of `req` to `onResponse` until the returned function is called or the
   * stream ends (`onEnd` gets the error, if any; a cancel is not one).
   */
  getFlows(req: GetFlowsRequest, onResponse: (r: GetFlowsResponse) => void, onEnd: (err?: Error) => void): () => void {
    const call = this.stub.GetFlows(req);
    let cancelled = false;
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    call.on('data', onResponse);
    call.on('end', () => end());
    call.on('error', (err: ServiceError) => end(cancelled ? undefined : err));
    return () => {
      cancelled = true;
      call.cancel();
    };
  }

  /** The namespaces the server has seen flows in. */
  namespaces(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.stub.GetNamespaces({}, (err, res) => (err ? reject(err) : resolve((res?.namespaces ?? []).map((n) => n.namespace))));
    });
  }

  /** Closes the channel. */
  close(): void {
    this.stub.close();
  }
}
