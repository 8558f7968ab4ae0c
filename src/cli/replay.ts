import { parseArgs } from "node:util";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { flowKey } from "../core/flow.js";
import { formatProblem } from "../flows/flow-file.js";
import { listFlowFiles, readFlowFiles } from "../server/flow-catalog.js";
import { liveAgents } from "../testing/live-agents.js";
import { replaySession, type SessionReplay } from "../testing/replay.js";
import { replayLines, summarizeReplays, summaryLines } from "../testing/replay-report.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, UsageError } from "./command.js";
import { staticAgent } from "./serve-settings.js";
import { fetchHistory, listSessionIds } from "./session-history.js";
import { statusNames } from "./sessions.js";


/**
 * replayUsage is the help of `switchboard replay`.
 */
export const replayUsage = `Usage:
  switchboard replay SESSION... --flow ID@VERSION [options]
  switchboard replay --from ID[@VERSION] [--status STATUS] [--limit N] --flow ID@VERSION [options]

What if these conversations had followed another flow version? Replays
stored sessions' inputs against flow ID@VERSION (read from the flow
directory), in memory, answering each agent call with the reply the agent
gave at the same turn and stage. For each session it reports, turn by turn,
where the new version departs from what happened (stage, agent, reply,
status, the state as a diff) and how the outcome changed; it stops at the
first call the recording cannot answer (with --live-agents, it calls the
running agent there instead). The stored sessions are only read.

With --from, the sessions are those of flow ID (and VERSION), optionally
with a status, most recently updated first, and a summary follows: how many
departed, at which stage, and how their outcomes changed.

Options:
  --flow ID@VER    the flow version to replay against
  --flows DIR      the flow directory (default: flows)
  --from ID[@VER]  replay the stored sessions of this flow (and version)
  --status STATUS  with --from: only sessions with this status
                   (active, waiting, completed, failed)
  --limit N        with --from: at most N sessions (default 100)
  --live-agents    where the recording has no reply, call the running agent
  --agent NAME=URL with --live-agents: an agent instance (repeatable, or
                   SWITCHBOARD_AGENTS=NAME=URL,...)
  --json           print the replays and the summary as JSON
  --help           show this help

Exit codes: 0 no session departed, 1 some did, 2 a usage or file problem.

${connectionUsage}
`;

/**
 * replayCommand is `switchboard replay`.
 */
export const replayCommand: Command = {
  name: ["replay"],
  summary: "replay stored sessions against another flow version (what-if)",
  usage: replayUsage,
  async run(argv, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          ...connectionOptions,
          flow: { type: "string" },
          flows: { type: "string" },
          from: { type: "string" },
          status: { type: "string" },
          limit: { type: "string" },
          json: { type: "boolean" },
          "live-agents": { type: "boolean" },
          agent: { type: "string", multiple: true },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const { values, positionals } = parsed;
    const [id, version] = (values.flow ?? "").split("@");
    if (!id || !version) throw new UsageError("--flow ID@VERSION is required");
    if ((positionals.length > 0) === (values.from !== undefined)) throw new UsageError("name the SESSIONs to replay, or choose them with --from, not both");
    const status = values.status === undefined ? undefined : statusNames[values.status];
    if (values.status !== undefined && status === undefined) throw new UsageError(`--status: ${JSON.stringify(values.status)} is not one of ${Object.keys(statusNames).join(", ")}`);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: ${JSON.stringify(values.limit)} is not a whole number above 0`);
    const dir = values.flows ?? "flows";
    let files: string[];
    try {
      files = listFlowFiles(dir);
    } catch (e) {
      throw new UsageError(`--flows ${dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const read = readFlowFiles(files);
    if (read.problems.length > 0) {
      io.err.write(`${read.problems.map(formatProblem).join("\n")}\n`);
      return 2;
    }
    const flow = read.flows.find((f) => f.flow.id === id && f.flow.version === version)?.flow;
    if (flow === undefined) {
      io.err.write(`switchboard replay: no flow ${flowKey(id, version)} in ${dir} (${read.flows.map((f) => flowKey(f.flow.id, f.flow.version)).join(", ") || "none"})\n`);
      return 2;
    }
    const specs = values.agent ?? (io.env["SWITCHBOARD_AGENTS"] ?? "").split(",").filter((a) => a !== "");
    if (values["live-agents"] === true && specs.length === 0) throw new UsageError("--live-agents needs the agents: --agent NAME=URL (repeatable) or SWITCHBOARD_AGENTS");
    const instances = values["live-agents"] === true ? specs.map((a) => staticAgent(a, "--agent")) : [];
    const client = orchestratorClient(OrchestratorService, values, io.env);
    let ids = positionals;
    if (values.from !== undefined) {
      const [fromId = "", fromVersion] = values.from.split("@");
      ids = await listSessionIds(client, { flow: fromId, ...(fromVersion ? { version: fromVersion } : {}), ...(status !== undefined ? { status } : {}) }, limit);
    }
    const replays: SessionReplay[] = [];
    const live = instances.length > 0 ? await liveAgents(instances) : undefined;
    try {
      for (const sessionId of ids) {
        const replay = await replaySession(await fetchHistory(client, sessionId), flow, live?.invoker);
        replays.push(replay);
        if (values.json !== true) io.out.write(`${replayLines(replay).join("\n")}\n`);
      }
    } finally {
      live?.close();
    }
    const summary = summarizeReplays(replays);
    if (values.json === true) io.out.write(`${JSON.stringify({ flow: flowKey(id, version), replays, summary }, null, 2)}\n`);
    else if (values.from !== undefined || replays.length > 1) io.out.write(`\n${summaryLines(summary, flowKey(id, version)).join("\n")}\n`);
    return summary.departed > 0 ? 1 : 0;
  },
};
