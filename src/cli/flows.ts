import { parseArgs } from "node:util";
import { create, toJson } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  GetFlowStatsResponseSchema,
  GuardMetric,
  type Rollout,
  RolloutChangeSchema,
  type RolloutGuard,
  RolloutGuardSchema,
  RolloutSchema,
  RolloutService,
} from "../gen/switchboard/v1/rollout_pb.js";
import { describeWeights, parseWeights } from "../core/rollout.js";
import { guardMetricName } from "../core/rollout-guard.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, type Io, UsageError } from "./command.js";
import { flowStatsTable } from "./flow-stats-view.js";
import { table } from "./output.js";

function parse<O extends Record<string, { type: "string" | "boolean" }>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { ...connectionOptions, json: { type: "boolean" }, help: { type: "boolean" }, ...options } });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

const write = (io: Io, text: string) => io.out.write(text);
const jsonOut = (io: Io, value: unknown) => write(io, `${JSON.stringify(value, null, 2)}\n`);

/**
 * parseGuard reads `METRIC:MARGIN:MIN_SESSIONS`, e.g.
 * `failed-turns:0.05:50`, the guard's form on the command line.
 */
export function parseGuard(text: string): RolloutGuard {
  const [name, margin, min] = text.split(":");
  const metric = name === "failed-turns" ? GuardMetric.FAILED_TURN_RATE : name === "hand-off" ? GuardMetric.HAND_OFF_RATE : undefined;
  if (metric === undefined || margin === undefined || min === undefined) {
    throw new UsageError(`--guard: ${JSON.stringify(text)} is not METRIC:MARGIN:MIN_SESSIONS with METRIC failed-turns or hand-off, e.g. failed-turns:0.05:50`);
  }
  return create(RolloutGuardSchema, { metric, margin: Number(margin), minSessions: Number(min) });
}

/**
 * parseSince reads a window such as `24h`, `30m`, `7d`, `90s`; `0` or
 * `all` for every stored session.
 */
export function parseSince(text: string): number {
  if (text === "0" || text === "all") return 0;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text);
  if (m === null) throw new UsageError(`--since: ${JSON.stringify(text)} is not a duration like 90s, 30m, 24h or 7d (or all)`);
  return Math.round(Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"]);
}

/** describeRollout is a rollout in one or two lines. */
export function describeRollout(flowId: string, r: Rollout | undefined): string {
  if (r === undefined || r.weights.length === 0) return `flow ${flowId}: no rollout; new sessions get the newest version\n`;
  const g = r.guard;
  const guard = g
    ? `guard: ${guardMetricName(g.metric)} rate worse than the baseline's by more than ${(g.margin * 100).toFixed(1)} points, judged once each version has ${g.minSessions} sessions\n`
    : "";
  const who = r.updatedBy !== "" ? ` by ${r.updatedBy}` : "";
  return `flow ${flowId}: rollout revision ${r.revision}${who}: ${describeWeights(r)}\n${guard}`;
}

const rolloutUsage = `switchboard flows rollout FLOW [VERSION=PERCENT ...] [--guard G] [--clear]

Splits a flow's new sessions between its versions, e.g. 2=10 1=90 gives
version 2 a tenth of new sessions. The weights add up to 100 and name
versions the orchestrator has loaded. A running session keeps its version.
Without weights, shows the flow's rollout.

Options:
  --guard G        cut a worse version to zero by itself: METRIC:MARGIN:MIN,
                   METRIC failed-turns or hand-off, e.g. failed-turns:0.05:50
  --revision N     change only while the rollout is at revision N
  --clear          remove the rollout: new sessions get the newest version
  --json           print JSON
  --help           show this help

${connectionUsage}
`;

/**
 * flowsRollout shows, sets or clears a flow's rollout.
 */
const flowsRollout: Command = {
  name: ["flows", "rollout"],
  summary: "split a flow's new sessions between versions (VERSION=PERCENT ...)",
  usage: rolloutUsage,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { guard: { type: "string" }, clear: { type: "boolean" }, revision: { type: "string" } });
    const [flowId, ...weightArgs] = positionals;
    if (flowId === undefined) throw new UsageError("name the FLOW");
    const client = orchestratorClient(RolloutService, values, io.env);
    let rollout: Rollout | undefined;
    if (values.clear === true) {
      if (weightArgs.length > 0) throw new UsageError("--clear takes no weights");
      await client.clearRollout({ flowId });
    } else if (weightArgs.length > 0) {
      const weights = parseWeightsArg(weightArgs);
      if (values.revision !== undefined && !/^\d+$/.test(values.revision)) throw new UsageError(`--revision: ${JSON.stringify(values.revision)} is not a revision number`);
      const expectedRevision = BigInt(values.revision ?? "0");
      const guard = values.guard === undefined ? undefined : parseGuard(values.guard);
      ({ rollout } = await client.setRollout({ flowId, weights, expectedRevision, ...(guard ? { guard } : {}) }));
    } else {
      if (values.guard !== undefined) throw new UsageError("--guard needs the weights too");
      ({ rollout } = await client.getRollout({ flowId }));
    }
    if (values.json === true) return jsonOut(io, toJson(RolloutSchema, rollout ?? create(RolloutSchema, { flowId }))), 0;
    write(io, describeRollout(flowId, rollout));
    return 0;
  },
};

function parseWeightsArg(args: string[]) {
  try {
    return parseWeights(args);
  } catch (e) {
    throw new UsageError(ConnectError.from(e).rawMessage);
  }
}

/**
 * flowsRolloutHistory lists a flow's audited rollout changes.
 */
const flowsRolloutHistory: Command = {
  name: ["flows", "rollout-history"],
  summary: "list a flow's rollout changes: who, when, from what to what",
  usage: `switchboard flows rollout-history FLOW [--limit N]

Lists the changes of a flow's rollout, newest first: who made each (the
token's subject, or "guard" for a guard's cut), when, and from what to what.

Options:
  --limit N        at most N changes (default 50)
  --json           print JSON
  --help           show this help

${connectionUsage}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { limit: { type: "string" } });
    const [flowId] = positionals;
    if (flowId === undefined || positionals.length > 1) throw new UsageError("name one FLOW");
    const limit = Number(values.limit ?? "50");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit: ${JSON.stringify(values.limit)} is not a whole number from 1 to 1000`);
    const { changes } = await orchestratorClient(RolloutService, values, io.env).listRolloutChanges({ flowId, pageSize: limit });
    if (values.json === true) return jsonOut(io, changes.map((c) => toJson(RolloutChangeSchema, c))), 0;
    write(
      io,
      table(
        ["REVISION", "TIME", "ACTOR", "ACTION", "FROM", "TO", "REASON"],
        changes.map((c) => [
          String(c.revision),
          c.time ? timestampDate(c.time).toISOString() : "",
          c.actor,
          c.action,
          describeWeights(c.from),
          describeWeights(c.to),
          c.reason,
        ]),
      ),
    );
    return 0;
  },
};

/**
 * flowsStats prints a flow's outcomes per version side by side.
 */
const flowsStats: Command = {
  name: ["flows", "stats"],
  summary: "outcomes per flow version side by side, with 95% intervals",
  usage: `switchboard flows stats FLOW [--since 24h]

Counts the outcomes of each version of a flow over the sessions created in
the window, in the session store: sessions started, completed, failed and
unfinished; hand-off, containment, failed-turn and barge-in rates, each with
its 95% Wilson interval and counts; turns per session and the median
duration. With two or more versions, the last column is the newest version
minus the next, with the difference's 95% interval: "real" when it excludes
zero, "within noise" when it does not.

Options:
  --since D        the window: 90s, 30m, 24h, 7d, or all (default 24h)
  --json           print JSON
  --help           show this help

${connectionUsage}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { since: { type: "string" } });
    const [flowId] = positionals;
    if (flowId === undefined || positionals.length > 1) throw new UsageError("name one FLOW");
    const sinceMs = parseSince(values.since ?? "24h");
    const res = await orchestratorClient(RolloutService, values, io.env).getFlowStats({ flowId, since: durationFromMs(sinceMs) });
    if (values.json === true) return jsonOut(io, toJson(GetFlowStatsResponseSchema, res)), 0;
    const window = sinceMs === 0 ? "all stored sessions" : `sessions created since ${res.since ? timestampDate(res.since).toISOString() : "?"}`;
    const handOff = res.handOffStages.length > 0 ? `hand-off stages: ${res.handOffStages.join(", ")}` : "the flow declares no hand-off stages";
    write(io, `flow ${flowId}: ${window}; ${handOff}\n\n${flowStatsTable(res)}`);
    return 0;
  },
};

/**
 * flowsCommands are the `switchboard flows` commands.
 */
export const flowsCommands: Command[] = [flowsRolloutHistory, flowsRollout, flowsStats];
