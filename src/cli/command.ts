/**
 * UsageError is a mistake in how a command was called: the message says
 * what to fix, and the command's usage follows it.
 */
export class UsageError extends Error {}

/**
 * Io is where a command reads its environment and writes its output.
 */
export interface Io {
  /** Where interactive commands read from; process.stdin when unset. */
  in?: NodeJS.ReadableStream & { isTTY?: boolean };
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/**
 * Command is one `switchboard` command or subcommand.
 */
export interface Command {
  /** The words that name it: ["sessions", "ls"]. */
  readonly name: string[];
  /** One line for the list of commands. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly usage: string;
  /** run executes the command and returns the exit code. */
  run(argv: string[], io: Io): Promise<number>;
}

/**
 * wantsHelp tells whether the arguments ask for help.
 */
export function wantsHelp(argv: string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}
