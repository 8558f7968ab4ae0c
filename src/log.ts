import { pino, type Logger } from "pino";
import { Redactor } from "./server/redaction.js";

export type { Logger };

/**
 * LogOptions configure the root logger.
 */
export interface LogOptions {
  /** pino level: "trace", "debug", "info", "warn", "error", "silent". */
  level?: string;
  /** Human-readable output; defaults to true when stdout is a terminal. */
  pretty?: boolean;
  /** Redacts sensitive values in every line; secrets (tokens, passwords) are always redacted. */
  redactor?: Redactor;
  /** Where lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

/**
 * createLogger returns the process's root logger: one JSON object per line,
 * or pretty lines (formatted in a worker thread) on a terminal. Subsystems
 * take `logger.child({ component })`.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const pretty = opts.destination === undefined && (opts.pretty ?? process.stdout.isTTY === true);
  const redactor = opts.redactor ?? new Redactor([], []);
  const options = {
    level: opts.level ?? "info",
    base: { service: "switchboard" },
    formatters: { log: (obj: Record<string, unknown>) => redactor.value(obj) as Record<string, unknown> },
    ...(pretty
      ? {
          transport: {
            target: "pino-pretty",
            options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" },
          },
        }
      : {}),
  };
  return opts.destination !== undefined ? pino(options, opts.destination) : pino(options);
}
