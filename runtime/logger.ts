// A tiny structured logger: one JSON object per line, levels, and child loggers carrying fields.

/** Severity levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Key/value context attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Structured logger used throughout the runtime. */
export interface Logger {
  /** Verbose diagnostics, off by default. */
  debug(msg: string, fields?: LogFields): void;
  /** Normal operational messages. */
  info(msg: string, fields?: LogFields): void;
  /** Something unexpected that the program recovers from. */
  warn(msg: string, fields?: LogFields): void;
  /** A failure; pass the error as the `err` field. */
  error(msg: string, fields?: LogFields): void;
  /** Returns a logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped; default `info`. */
  level?: LogLevel;
  /** Where finished lines go; default process.stderr. */
  write?: (line: string) => void;
  /** Fields attached to every line. */
  fields?: LogFields;
  /** Timestamp source; default `new Date()`. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Turns errors into plain objects so JSON.stringify keeps their message and stack. */
function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  return value;
}

/** Creates a JSON-lines logger: `{"ts":..,"level":..,"msg":.., ...fields}` per line. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const base = opts.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const record: LogFields = { ts: now().toISOString(), level, msg };
    for (const [k, v] of Object.entries({ ...base, ...fields })) record[k] = serialise(v);
    write(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that discards everything; the default when none is injected. */
export const nopLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => nopLogger,
};
