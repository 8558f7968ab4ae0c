import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { recordCase, recordedTurns } from "../testing/case-record.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, UsageError } from "./command.js";
import { fetchHistory } from "./session-history.js";

/**
 * testRecordUsage is the help of `switchboard test record`.
 */
export const testRecordUsage = `Usage:
  switchboard test record SESSION --out FILE [--name NAME]

Writes a stored session as a test case: each turn's input, the agents'
replies as scripted replies (each matched to its turn and stage), and what
happened after each turn as its expectations: stage, agent, reply, status,
the state keys the turn changed, and the end with its summary. Run it with
\`switchboard test FILE\`; edit it freely. The session is only read.

Options:
  --out FILE       where to write the case (- for standard output)
  --name NAME      the case's name (default: "session SESSION")
  --help           show this help

${connectionUsage}
`;

/**
 * testRecordCommand is `switchboard test record`.
 */
export const testRecordCommand: Command = {
  name: ["test", "record"],
  summary: "write a stored session as a test case",
  usage: testRecordUsage,
  async run(argv, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: { ...connectionOptions, out: { type: "string" }, name: { type: "string" }, help: { type: "boolean", short: "h" } },
      });
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1 || positionals[0] === "") throw new UsageError("expected one SESSION argument");
    if (values.out === undefined) throw new UsageError("--out FILE is required (- for standard output)");
    const history = await fetchHistory(orchestratorClient(OrchestratorService, values, io.env), positionals[0] as string);
    const text = recordCase(history, values.name !== undefined ? { name: values.name } : {});
    if (values.out === "-") io.out.write(text);
    else {
      writeFileSync(values.out, text);
      io.err.write(`wrote ${recordedTurns(history).length} turns of session ${history.session.id} (${history.session.flowId}@${history.session.flowVersion}) to ${values.out}\n`);
    }
    return 0;
  },
};
