import { Code, ConnectError } from "@connectrpc/connect";
import { conformanceMain } from "../conformance/cli.js";
import { codeName } from "../core/errors.js";
import { FlowLoadError } from "../server/flow-catalog.js";
import { agentsLs } from "./agents.js";
import { chat } from "./chat.js";
import { type Command, type Io, UsageError, wantsHelp } from "./command.js";
import { flowValidateCommand } from "./flow-validate.js";
import { flowsCommands } from "./flows.js";
import { demoCommand, serveCommand } from "./serve.js";
import { sessionsCommands } from "./sessions.js";
import { sessionsMigrate } from "./sessions-migrate.js";
import { replayCommand } from "./replay.js";
import { testCommand } from "./test.js";
import { testRecordCommand } from "./test-record.js";

const conformance: Command = {
  name: ["conformance"],
  summary: "check an agent against the AgentService contract",
  usage: "",
  run: (argv) => conformanceMain(argv),
};

/**
 * commands is every `switchboard` command.
 */
export const commands: Command[] = [
  serveCommand,
  demoCommand,
  ...sessionsCommands,
  sessionsMigrate,
  agentsLs,
  flowValidateCommand,
  ...flowsCommands,
  // `test record` before `test`: a command is found by its leading words.
  testRecordCommand,
  testCommand,
  replayCommand,
  chat,
  conformance,
];

function overview(): string {
  const rows = commands.map((c) => `  ${c.name.join(" ").padEnd(22)}${c.summary}`);
  return `switchboard: a gRPC agent-mesh orchestrator

Usage:
  switchboard COMMAND [options]

Commands:
${rows.join("\n")}
  help [COMMAND]        show help (also: COMMAND --help)

Every command takes --help. Commands that print data take --json.
`;
}

function groupUsage(group: string): string {
  const rows = commands.filter((c) => c.name[0] === group).map((c) => `  switchboard ${c.name.join(" ").padEnd(20)}${c.summary}`);
  return `switchboard ${group}: subcommands\n\n${rows.join("\n")}\n\nEach takes --help.\n`;
}

/**
 * find returns the command named by the leading words of argv, with the
 * remaining arguments.
 */
function find(argv: string[]): { command: Command; rest: string[] } | { group: string } | undefined {
  for (const c of commands) {
    if (c.name.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(c.name.length) };
  }
  const group = argv[0];
  if (group !== undefined && commands.some((c) => c.name.length > 1 && c.name[0] === group)) return { group };
  return undefined;
}

/**
 * main runs the switchboard command and returns its exit code.
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    const topic = first === "help" ? find(argv.slice(1)) : undefined;
    if (topic !== undefined && "command" in topic) io.out.write(topic.command.usage || overview());
    else if (topic !== undefined) io.out.write(groupUsage(topic.group));
    else io.out.write(overview());
    return 0;
  }
  const found = find(argv);
  if (found === undefined) {
    io.err.write(`switchboard: unknown command ${JSON.stringify(argv.join(" "))}\n\n${overview()}`);
    return 2;
  }
  if ("group" in found) {
    const usage = groupUsage(found.group);
    if (wantsHelp(argv.slice(1))) {
      io.out.write(usage);
      return 0;
    }
    io.err.write(`switchboard: ${argv[1] === undefined ? "missing" : `unknown`} subcommand of ${found.group}${argv[1] === undefined ? "" : ` ${JSON.stringify(argv[1])}`}\n\n${usage}`);
    return 2;
  }
  const { command, rest } = found;
  // The conformance kit has its own help.
  if (command !== conformance && wantsHelp(rest)) {
    io.out.write(command.usage);
    return 0;
  }
  const label = `switchboard ${command.name.join(" ")}`;
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err.write(`${label}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    if (e instanceof FlowLoadError) {
      io.err.write(`${label}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConnectError) {
      const hint = e.code === Code.Unauthenticated ? " (pass --token or set SWITCHBOARD_TOKEN)" : e.code === Code.Unavailable ? " (is the orchestrator running at --server?)" : "";
      io.err.write(`${label}: ${codeName(e.code)}: ${e.rawMessage}${hint}\n`);
      return 1;
    }
    throw e;
  }
}
