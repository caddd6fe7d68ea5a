/**
 * Clients of Hubble's gRPC services (observer.Observer, grpc.health.v1, peer.Peer), made from the
 * generated definitions: what the relay, `ciliate observe`, the service map and the tests dial.
 */
import { makeGenericClientConstructor, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { hubbleServices } from './protos.ts';

type Message = Record<string, unknown>;

/** An observer.Observer client (an agent's Hubble server or the relay). */
export interface ObserverClient extends Client {
  GetFlows(req: Message): ClientReadableStream<Message>;
  ServerStatus(req: Message, opts: { deadline: number }, cb: (err: ServiceError | null, res?: Message) => void): unknown;
  GetNamespaces(req: Message, opts: { deadline: number }, cb: (err: ServiceError | null, res?: Message) => void): unknown;
}

/** A grpc.health.v1 client. */
export interface HealthClient extends Client {
  Check(req: { service: string }, opts: { deadline: number }, cb: (err: ServiceError | null, res?: { status?: string }) => void): unknown;
}

/** A peer.Peer client. */
export interface PeerClient extends Client {
  Notify(req: Message): ClientReadableStream<{ name?: string; address?: string; type?: string; tls?: { server_name?: string } }>;
}

type ClientConstructor<C> = new (...args: ConstructorParameters<typeof Client>) => C;

/** Client classes of the Hubble services. */
export interface HubbleClients {
  observer: ClientConstructor<ObserverClient>;
  health: ClientConstructor<HealthClient>;
  peer: ClientConstructor<PeerClient>;
}

let constructors: HubbleClients | undefined;

/** The generic client constructors of Observer, Health and Peer (once). */
export function hubbleClients(): HubbleClients {
  if (!constructors) {
    const svc = hubbleServices();
    const make = <C>(def: typeof svc.observer, name: string) => makeGenericClientConstructor(def, name) as unknown as ClientConstructor<C>;
    constructors = { observer: make<ObserverClient>(svc.observer, 'Observer'), health: make<HealthClient>(svc.health, 'Health'), peer: make<PeerClient>(svc.peer, 'Peer') };
  }
  return constructors;
}

