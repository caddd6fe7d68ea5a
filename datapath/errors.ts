// Datapath error sentinels built on the native module's fs-style errors.

/** An fs-style error from the native module. */
export interface ErrnoException extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** True when err came from a failed syscall with one of the given codes. */
export function isErrno(err: unknown, ...codes: string[]): err is ErrnoException {
  return err instanceof Error && typeof (err as Partial<ErrnoException>).code === 'string' &&
    (codes.length === 0 || codes.includes((err as ErrnoException).code));
}

/** Program load failure, carrying the kernel verifier's log and libbpf's messages. */
export class VerifierError extends Error {
  /** @param cause the native error; verifierLog/libbpfLog are copied from it. */
  constructor(
    message: string,
    readonly code: string,
    readonly verifierLog: string,
    readonly libbpfLog: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'VerifierError';
  }
}

/** A kernel feature the datapath needs is absent; callers skip or degrade loudly. */
export class NotSupportedError extends Error {
  override readonly name = 'NotSupportedError';
}

/** Prefixes an error's message with context ("map cilium_ipcache: update: ...") keeping code/errno. */
export function withContext<T extends Error>(err: T, context: string): T {
  err.message = `${context}: ${err.message}`;
  return err;
}
