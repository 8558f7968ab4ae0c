import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionSchema,
  SessionStatus,
  SnapshotSchema,
  StepKind,
  StepSchema,
  StepStatus,
} from "../gen/switchboard/v1/session_pb.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, type Io, UsageError } from "./command.js";
import { clip, Progress, table } from "./output.js";

/**
 * statusNames are the session statuses by the name the commands take.
 */
export const statusNames: Record<string, SessionStatus> = {
  active: SessionStatus.ACTIVE,
  waiting: SessionStatus.WAITING,
  completed: SessionStatus.COMPLETED,
  failed: SessionStatus.FAILED,
};

const enumName = (e: Record<number, string>, v: number) => (e[v] ?? String(v)).toLowerCase();
const time = (t: Session["updateTime"]) => (t === undefined ? "" : timestampDate(t).toISOString());

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], extra: Record<string, { type: "string" | "boolean" }> = {}): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...connectionOptions, json: { type: "boolean" }, help: { type: "boolean", short: "h" }, ...extra },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function oneId(positionals: string[], what = "SESSION"): string {
  if (positionals.length !== 1 || positionals[0] === "") throw new UsageError(`expected one ${what} argument`);
  return positionals[0] as string;
}

const usage = (line: string, about: string, options = "") => `switchboard sessions ${line}

${about}

Options:
${options}  --json           print JSON (the Protobuf JSON mapping) instead of a table
  --help           show this help

${connectionUsage}
`;

const write = (io: Io, text: string) => io.out.write(text);

/**
 * allPages fetches page after page until the last (or `limit` items),
 * reporting progress as it goes when given a Progress.
 */
export async function allPages<T>(
  fetch: (pageToken: string, want: number) => Promise<{ items: T[]; next: string }>,
  progress: Progress | undefined,
  noun: string,
  limit = Infinity,
): Promise<T[]> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const page = await fetch(pageToken, Math.min(1000, limit - items.length));
    items.push(...page.items);
    pageToken = page.next;
    progress?.update(`fetched ${items.length} ${noun}…`);
  } while (pageToken !== "" && items.length < limit);
  progress?.done(`fetched ${items.length} ${noun}`);
  return items;
}
const jsonOut = (io: Io, value: unknown) => write(io, `${JSON.stringify(value, null, 2)}\n`);

/**
 * sessionsLs lists sessions page by page.
 */
const sessionsLs: Command = {
  name: ["sessions", "ls"],
  summary: "list sessions, newest first",
  usage: usage(
    "ls [--status STATUS] [--limit N | --all]",
    "Lists the sessions the token may see, most recently updated first.",
    `  --status S       only sessions in status S: active, waiting, completed, failed
  --limit N        at most N sessions (default 50)
  --all            every session, page by page (progress on stderr)
`,
  ),
  async run(argv, io) {
    const { values } = parse(argv, { status: { type: "string" }, limit: { type: "string" }, all: { type: "boolean" } });
    const statusArg = values["status"] as string | undefined;
    const status = statusArg === undefined ? SessionStatus.UNSPECIFIED : statusNames[statusArg];
    if (status === undefined) throw new UsageError(`--status: ${JSON.stringify(statusArg)} is not one of ${Object.keys(statusNames).join(", ")}`);
    const limitArg = values["limit"] as string | undefined;
    const limit = values["all"] === true ? Infinity : Number(limitArg ?? "50");
    if (!(limit > 0) || (limit !== Infinity && !Number.isInteger(limit))) throw new UsageError(`--limit: ${JSON.stringify(limitArg)} is not a positive whole number`);
    const client = orchestratorClient(OrchestratorService, values, io.env);
    const sessions = await allPages(
      async (pageToken, want) => {
        const res = await client.listSessions({ status, pageSize: Math.min(500, want), pageToken });
        return { items: res.sessions, next: res.nextPageToken };
      },
      Progress.for(io.err, io.env),
      "sessions",
      limit,
    );
    if (values["json"] === true) return jsonOut(io, sessions.map((s) => toJson(SessionSchema, s))), 0;
    write(
      io,
      table(
        ["SESSION", "TENANT", "FLOW", "STAGE", "STATUS", "VERSION", "UPDATED"],
        sessions.map((s) => [s.id, s.tenant, `${s.flowId}@${s.flowVersion}`, s.stage, enumName(SessionStatus, s.status).replace("session_status_", ""), String(s.version), time(s.updateTime)]),
      ),
    );
    return 0;
  },
};

/**
 * sessionsShow prints one session.
 */
const sessionsShow: Command = {
  name: ["sessions", "show"],
  summary: "show one session",
  usage: usage("show SESSION", "Shows a session as of its last committed version: stage, status, state, transcript window."),
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    const { session } = await orchestratorClient(OrchestratorService, values, io.env).getSession({ sessionId: oneId(positionals) });
    if (session === undefined) return 1;
    if (values["json"] === true) return jsonOut(io, toJson(SessionSchema, session)), 0;
    const lines = [
      ["session", session.id],
      ["tenant", session.tenant || "(none)"],
      ["account", session.accountId],
      ["flow", `${session.flowId}@${session.flowVersion}`],
      ["stage", session.stage],
      ["status", enumName(SessionStatus, session.status).replace("session_status_", "")],
      ["version", String(session.version)],
      ["created", time(session.createTime)],
      ["updated", time(session.updateTime)],
      ["expires", time(session.expireTime)],
      ["completed", session.completedStages.join(" → ")],
      ["state", JSON.stringify(session.state ?? {})],
    ];
    if (session.waiting) lines.push(["waiting", session.waiting.reason]);
    if (session.origin) lines.push(["forked from", `${session.origin.sessionId} v${session.origin.version}`]);
    write(io, lines.map(([k, v]) => `${(k ?? "").padEnd(12)}${v}`).join("\n") + "\n");
    if (session.history.length > 0) {
      write(io, "\ntranscript (most recent):\n");
      for (const h of session.history) write(io, `  ${h.agent || "user"}: ${h.text}${h.interrupted ? " [interrupted]" : ""}\n`);
    }
    return 0;
  },
};

/**
 * sessionsSteps prints a session's audit trail.
 */
const sessionsSteps: Command = {
  name: ["sessions", "steps"],
  summary: "show a session's audit trail",
  usage: usage("steps SESSION", "Shows a session's audit trail, oldest first, every page (progress on stderr)."),
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    const sessionId = oneId(positionals);
    const client = orchestratorClient(OrchestratorService, values, io.env);
    const steps = await allPages(
      async (pageToken, want) => {
        const res = await client.listSteps({ sessionId, pageSize: want, pageToken });
        return { items: res.steps, next: res.nextPageToken };
      },
      Progress.for(io.err, io.env),
      "steps",
    );
    if (values["json"] === true) return jsonOut(io, steps.map((s) => toJson(StepSchema, s))), 0;
    write(
      io,
      table(
        ["VERSION", "KIND", "STAGE", "AGENT", "STATUS", "MS", "INPUT", "OUTPUT / ERROR"],
        steps.map((s) => [
          String(s.version),
          enumName(StepKind, s.kind).replace("step_kind_", ""),
          s.stage,
          s.agent,
          enumName(StepStatus, s.status).replace("step_status_", ""),
          s.latency ? String(durationMs(s.latency)) : "",
          clip(s.input?.text || s.input?.intent || ""),
          clip(s.error ? `${s.error.code}: ${s.error.message}` : s.kind === StepKind.MIGRATION ? `moved to version ${s.details["migrated_to"]} at ${s.nextStage}` : s.output),
        ]),
      ),
    );
    return 0;
  },
};

/**
 * sessionsSnapshots prints a session's versions.
 */
const sessionsSnapshots: Command = {
  name: ["sessions", "snapshots"],
  summary: "list a session's committed versions",
  usage: usage("snapshots SESSION", "Lists a session's committed versions, oldest first, with why each exists."),
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    const sessionId = oneId(positionals);
    const client = orchestratorClient(OrchestratorService, values, io.env);
    const snapshots = await allPages(
      async (pageToken, want) => {
        const res = await client.listSnapshots({ sessionId, pageSize: want, pageToken });
        return { items: res.snapshots, next: res.nextPageToken };
      },
      Progress.for(io.err, io.env),
      "snapshots",
    );
    if (values["json"] === true) return jsonOut(io, snapshots.map((s) => toJson(SnapshotSchema, s))), 0;
    write(
      io,
      table(
        ["VERSION", "REASON", "STAGE", "COMMITTED"],
        snapshots.map((s) => [String(s.version), s.reason, s.session?.stage ?? "", time(s.createTime)]),
      ),
    );
    return 0;
  },
};

const versionArg = (v: string | undefined, flag: string, min: bigint) => {
  if (v === undefined || !/^\d+$/.test(v) || BigInt(v) < min) throw new UsageError(`${flag}: ${JSON.stringify(v)} is not a version number of ${min} or more`);
  return BigInt(v);
};

/**
 * sessionsRollback returns a session to an earlier version.
 */
const sessionsRollback: Command = {
  name: ["sessions", "rollback"],
  summary: "return a session to an earlier version",
  usage: usage("rollback SESSION VERSION", "Commits a new version equal to VERSION; history is kept, the audit trail records the rollback."),
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    if (positionals.length !== 2) throw new UsageError("expected SESSION VERSION");
    const [sessionId, v] = positionals as [string, string];
    const { session } = await orchestratorClient(OrchestratorService, values, io.env).rollbackSession({ sessionId, version: versionArg(v, "VERSION", 1n) });
    if (values["json"] === true) return jsonOut(io, session ? toJson(SessionSchema, session) : null), 0;
    write(io, `session ${sessionId} rolled back to version ${v}; it is now at version ${session?.version} (stage ${session?.stage})\n`);
    return 0;
  },
};

/**
 * sessionsFork creates a session from a version of another.
 */
const sessionsFork: Command = {
  name: ["sessions", "fork"],
  summary: "create a new session from a version of another",
  usage: usage(
    "fork SESSION [--version N] [--new-id ID]",
    "Creates a new session (version 1) from a version of SESSION.",
    `  --version N      the version to fork (default: the current one)
  --new-id ID      the new session's id (default: generated)
`,
  ),
  async run(argv, io) {
    const { values, positionals } = parse(argv, { version: { type: "string" }, "new-id": { type: "string" } });
    const sessionId = oneId(positionals);
    const versionFlag = values["version"] as string | undefined;
    const version = versionFlag === undefined ? 0n : versionArg(versionFlag, "--version", 1n);
    const { session } = await orchestratorClient(OrchestratorService, values, io.env).forkSession({
      sessionId,
      version,
      newSessionId: (values["new-id"] as string | undefined) ?? "",
    });
    if (values["json"] === true) return jsonOut(io, session ? toJson(SessionSchema, session) : null), 0;
    write(io, `forked ${sessionId}${version === 0n ? "" : ` at version ${version}`} into ${session?.id}\n`);
    return 0;
  },
};

/**
 * sessionsRm deletes sessions.
 */
const sessionsRm: Command = {
  name: ["sessions", "rm"],
  summary: "delete sessions with their history",
  usage: usage(
    "rm SESSION...",
    "Deletes sessions with their snapshots and steps (progress on stderr). Exits 1 if any was not found.",
  ),
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    if (positionals.length === 0) throw new UsageError("expected one or more SESSION arguments");
    const client = orchestratorClient(OrchestratorService, values, io.env);
    const progress = Progress.for(io.err, io.env);
    const results: Array<{ session: string; deleted: boolean; error?: string }> = [];
    for (const [i, sessionId] of positionals.entries()) {
      try {
        await client.deleteSession({ sessionId });
        results.push({ session: sessionId, deleted: true });
      } catch (e) {
        results.push({ session: sessionId, deleted: false, error: e instanceof Error ? e.message : String(e) });
      }
      progress.update(`deleted ${i + 1}/${positionals.length}…`);
    }
    progress.done(`deleted ${results.filter((r) => r.deleted).length}/${positionals.length}`);
    if (values["json"] === true) jsonOut(io, results);
    else for (const r of results) write(io, r.deleted ? `deleted ${r.session}\n` : `not deleted ${r.session}: ${r.error}\n`);
    return results.every((r) => r.deleted) ? 0 : 1;
  },
};

/**
 * sessionsCommands are the `switchboard sessions` subcommands.
 */
export const sessionsCommands: Command[] = [sessionsLs, sessionsShow, sessionsSteps, sessionsSnapshots, sessionsRollback, sessionsFork, sessionsRm];
