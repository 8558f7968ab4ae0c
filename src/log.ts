import { pino, type Logger } from "pino";

export type { Logger };

/**
 * LogOptions configure the root logger.
 */
export interface LogOptions {
  /** pino level: "trace", "debug", "info", "warn", "error", "silent". */
  level?: string;
  /** Human-readable output; defaults to true when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * createLogger returns the process's root logger: one JSON object per line,
 * or pretty lines (formatted in a worker thread) on a terminal. Subsystems
 * take `logger.child({ component })`.
 */
export function createLogger(opts: LogOptions = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  return pino({
    level: opts.level ?? "info",
    base: { service: "switchboard" },
    ...(pretty
      ? {
          transport: {
            target: "pino-pretty",
            options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" },
          },
        }
      : {}),
  });
}
