/**
 * The parts of the CNI 1.x specification Ciliate speaks: versions, error codes, and the shapes of
 * network configuration, results and errors exchanged on stdin/stdout.
 */

/** The versions the plugin accepts in `cniVersion` (STATUS exists from 1.1.0 on). */
export const SUPPORTED_VERSIONS = ['1.0.0', '1.1.0'] as const;

/** Well-known error codes of the specification; 100 and up are the plugin's own. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  ContainerUnknown: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  /** The endpoint recorded by the agent does not match what CHECK found. */
  EndpointMismatch: 100,
  /** The agent failed while setting up or tearing down the endpoint. */
  AgentFailure: 101,
} as const;

/** An error in the specification's format. */
export interface CniErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** An error a plugin reports: printed as {@link CniErrorBody} with a non-zero exit. */
export class CniError extends Error {
  /** The specification's error code. */
  readonly code: number;
  /** Longer explanation. */
  readonly details: string | undefined;

  /** Creates an error with code `code`. */
  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }

  /** The error in the specification's JSON format. */
  toBody(cniVersion: string): CniErrorBody {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** One interface of a result. */
export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}

/** An ADD result (CNI 1.0 "Success" type). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** The configuration one plugin receives on stdin: its conflist entry plus `cniVersion` and `name`. */
export interface PluginConfig {
  cniVersion: string;
  name: string;
  type: string;
  prevResult?: CniResult;
  [key: string]: unknown;
}

/** A network configuration list (`*.conflist`). */
export interface ConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: { type: string; [key: string]: unknown }[];
}

/** The operations of the specification. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'VERSION';

/** Parses CNI_ARGS (`K1=V1;K2=V2`) into a map. */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Whether a container ID is valid: starts alphanumeric, then alphanumerics, `_`, `.` or `-`. */
export function validContainerId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id);
}

/** Whether an interface name is valid for Linux: 1-15 bytes, no `/`, `:` or whitespace, not `.` or `..`. */
export function validIfName(name: string): boolean {
  return name.length > 0 && name.length <= 15 && !/[/:\s]/.test(name) && name !== '.' && name !== '..';
}
