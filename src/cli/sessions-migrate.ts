import { parseArgs } from "node:util";
import { type Client, ConnectError } from "@connectrpc/connect";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { codeName } from "../core/errors.js";
import { flowKey } from "../core/flow.js";
import { replayMigration, takesAnotherPath } from "../testing/migration-replay.js";
import type { SessionReplay } from "../testing/replay.js";
import { replayLines } from "../testing/replay-report.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, type Io, UsageError } from "./command.js";
import { Progress, table } from "./output.js";
import { fetchHistory, listSessionIds } from "./session-history.js";
import { statusNames } from "./sessions.js";

const migrateUsage = `Usage:
  switchboard sessions migrate SESSION... --to-version N [--dry-run]
  switchboard sessions migrate --flow ID [--version V] [--status S] [--limit N] --to-version N [--dry-run]

Moves running sessions onto version N of their flow, as version N's flow file
says (its migrations: entry for the session's version): the stage map gives
the stage each lands in, the state changes give its state. Each move is
checked (the stage exists; the state satisfies the flow's invariants and the
stage's preconditions) and committed as a new session version with a
migration step, so \`switchboard sessions rollback\` undoes it. A refused move
changes nothing and says why.

With --flow, the sessions are those of flow ID (and version V, and status S),
most recently updated first.

With --dry-run nothing changes: each session's move is checked, and its
recorded turns are replayed against version N in memory (read through the
migration's stage map and renames); the sessions whose path would change are
listed with where it departs.

Exit codes: 0 every session moved (would move, on the same path); 1 some were
refused (or, with --dry-run, would take another path); 2 a usage problem.

Options:
  --to-version N   the flow version to move to
  --flow ID        choose the sessions by flow instead of naming them
  --version V      with --flow: only sessions on flow version V
  --status S       with --flow: only sessions in status S: active, waiting
  --limit N        with --flow: at most N sessions (default: all)
  --dry-run        check and replay only; change nothing
  --json           print the results as JSON
  --help           show this help

${connectionUsage}
`;

/**
 * MigrationResult is what happened to one session, or would happen.
 */
export interface MigrationResult {
  session: string;
  /** "migrated", "refused", or with --dry-run "would migrate". */
  result: "migrated" | "would migrate" | "refused";
  /** The flow version and stage it came from and went (or would go) to. */
  from?: string;
  to?: string;
  /** The session's new version, once migrated. */
  version?: string;
  /** Why it was refused: the gRPC code and message. */
  reason?: string;
  /** With --dry-run: whether its recorded turns would take another path on the target. */
  pathChanges?: boolean;
  replay?: SessionReplay;
}

type OrchestratorClient = Client<typeof OrchestratorService>;

async function migrateOne(client: OrchestratorClient, sessionId: string, toVersion: string, dryRun: boolean, loaded: readonly Flow[]): Promise<MigrationResult> {
  let result: MigrationResult;
  try {
    const res = await client.migrateSession({ sessionId, toVersion, validateOnly: dryRun });
    const s = res.session;
    result = {
      session: sessionId,
      result: dryRun ? "would migrate" : "migrated",
      from: `${res.fromStage} (v${res.fromVersion})`,
      to: `${s?.stage} (v${s?.flowVersion})`,
      ...(dryRun ? {} : { version: String(s?.version) }),
    };
  } catch (e) {
    const err = ConnectError.from(e);
    result = { session: sessionId, result: "refused", reason: `${codeName(err.code)}: ${err.rawMessage}` };
  }
  if (dryRun) {
    const history = await fetchHistory(client, sessionId).catch(() => undefined);
    // Without the session or the version loaded there is nothing to replay; the check said why.
    const target = loaded.find((f) => f.id === history?.session.flowId && f.version === toVersion);
    if (history !== undefined && target !== undefined) {
      const replay = await replayMigration(history, target);
      result.pathChanges = takesAnotherPath(replay);
      result.replay = replay;
    }
  }
  return result;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...connectionOptions,
        "to-version": { type: "string" },
        "dry-run": { type: "boolean" },
        flow: { type: "string" },
        version: { type: "string" },
        status: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/**
 * sessionsMigrate moves sessions onto another version of their flow.
 */
export const sessionsMigrate: Command = {
  name: ["sessions", "migrate"],
  summary: "move running sessions onto another version of their flow",
  usage: migrateUsage,
  async run(argv: string[], io: Io) {
    const { values, positionals } = parse(argv);
    const toVersion = values["to-version"];
    if (toVersion === undefined || toVersion === "") throw new UsageError("--to-version N is required");
    const byFlow = values.flow !== undefined;
    if (byFlow === positionals.length > 0) throw new UsageError("name the SESSIONs to migrate, or choose them with --flow, not both");
    if (!byFlow && (values.version !== undefined || values.status !== undefined || values.limit !== undefined)) {
      throw new UsageError("--version, --status and --limit choose sessions with --flow");
    }
    const status = values.status === undefined ? undefined : statusNames[values.status];
    if (values.status !== undefined && status === undefined) throw new UsageError(`--status: ${JSON.stringify(values.status)} is not one of ${Object.keys(statusNames).join(", ")}`);
    const limit = values.limit === undefined ? Infinity : Number(values.limit);
    if (!(limit > 0) || (limit !== Infinity && !Number.isInteger(limit))) throw new UsageError(`--limit: ${JSON.stringify(values.limit)} is not a positive whole number`);
    const dryRun = values["dry-run"] === true;
    const client = orchestratorClient(OrchestratorService, values, io.env);
    const ids = byFlow
      ? await listSessionIds(client, { flow: values.flow ?? "", ...(values.version !== undefined ? { version: values.version } : {}), ...(status !== undefined ? { status } : {}) }, limit)
      : positionals;
    // A dry run replays against the versions the server has loaded, the ones a migration would use.
    const loaded = dryRun ? (await client.listFlows({})).flows : [];
    if (dryRun && byFlow && ids.length > 0 && !loaded.some((f) => f.id === values.flow && f.version === toVersion)) {
      io.err.write(`switchboard sessions migrate: the server has no flow ${flowKey(values.flow ?? "", toVersion)} loaded (${loaded.map((f) => flowKey(f.id, f.version)).join(", ") || "none"})\n`);
      return 2;
    }
    const progress = Progress.for(io.err, io.env);
    const results: MigrationResult[] = [];
    for (const [i, sessionId] of ids.entries()) {
      results.push(await migrateOne(client, sessionId, toVersion, dryRun, loaded));
      progress.update(`${dryRun ? "checked" : "migrated"} ${i + 1}/${ids.length}…`);
    }
    progress.done(`${dryRun ? "checked" : "migrated"} ${ids.length}`);
    const failed = results.some((r) => r.result === "refused" || r.pathChanges === true);
    if (values.json === true) {
      io.out.write(`${JSON.stringify(results, null, 2)}\n`);
      return failed ? 1 : 0;
    }
    io.out.write(report(results, toVersion, dryRun));
    return failed ? 1 : 0;
  },
};

function report(results: MigrationResult[], toVersion: string, dryRun: boolean): string {
  if (results.length === 0) return "no sessions matched\n";
  const rows = results.map((r) => [
    r.session,
    r.from ?? "",
    r.to ?? "",
    r.result === "refused" ? "refused (see below)" : r.version !== undefined ? `migrated (session version ${r.version})` : r.result,
    ...(dryRun ? [r.pathChanges === undefined ? "" : r.pathChanges ? "changes" : "same"] : []),
  ]);
  let out = table(["SESSION", "FROM", "TO", "RESULT", ...(dryRun ? [`PATH ON VERSION ${toVersion}`] : [])], rows);
  const moved = results.filter((r) => r.result !== "refused").length;
  for (const r of results) if (r.result === "refused") out += `\n${r.session} refused: ${r.reason}\n`;
  out += `\n${moved} of ${results.length} session${results.length === 1 ? "" : "s"} ${dryRun ? "would move" : "moved"}, ${results.length - moved} refused`;
  if (dryRun) {
    const changing = results.filter((r) => r.pathChanges === true);
    out += `; ${changing.length} would take another path${changing.length > 0 ? ":" : ""}\n`;
    for (const r of changing) if (r.replay) out += `\n${replayLines(r.replay).join("\n")}\n`;
    return out;
  }
  return `${out}\n`;
}
