import type { Command } from "./command.js";

/**
 * notInThisBuild is a command whose place in the command set is fixed but
 * whose implementation is not part of this build yet: it explains that and
 * exits 2, so scripts notice.
 */
function notInThisBuild(name: string[], summary: string, usage: string, needs: string): Command {
  return {
    name,
    summary,
    usage,
    async run(_argv, io) {
      io.err.write(`switchboard ${name.join(" ")}: not available in this build (${needs})\n`);
      return 2;
    },
  };
}

/**
 * chat is the interactive terminal conversation over Converse: it prints
 * the agent's deltas as they stream and lets the user barge in. It needs
 * the orchestrator's Converse stream; until then it is a placeholder.
 */
export const chat = notInThisBuild(
  ["chat"],
  "talk to the orchestrator in the terminal, with barge-in",
  `switchboard chat [--session ID] [--flow ID]

An interactive conversation over the Converse stream: type a line to send a
turn; the agent's reply streams in as it is produced; typing while it
streams barges in.

Options:
  --session ID     the session (default: a new one)
  --flow ID        the flow of a new session
  --help           show this help
`,
  "it needs the Converse stream",
);
