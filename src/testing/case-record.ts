import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Document, isMap, isPair, isScalar, visit } from "yaml";
import { type Session, SessionStatus, type Snapshot, type Step, StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action } from "../gen/switchboard/v1/turn_pb.js";
import { repliesOf } from "../core/turn-commit.js";
import { lastAgent } from "../core/turn-attempt.js";
import { statusName } from "./case-run.js";

/**
 * SessionHistory is what a stored session's record holds: the session,
 * its audit trail and its snapshots, oldest first.
 */
export interface SessionHistory {
  session: Session;
  steps: Step[];
  snapshots: Snapshot[];
}

/**
 * RecordedTurn is one turn of a stored session: its steps, the snapshot it
 * committed (none for a failed turn) and the one before it.
 */
export interface RecordedTurn {
  steps: Step[];
  after?: Session;
  before?: Session;
  error?: { code: string; message: string };
}

/**
 * recordedTurns groups a session's audit trail into its turns, in order,
 * with the snapshots around each. Rollbacks, forks, late barge-ins and
 * migrations are not turns a case can replay, and are left out.
 */
export function recordedTurns(h: SessionHistory): RecordedTurn[] {
  const byVersion = new Map(h.snapshots.map((s) => [s.version, s.session]));
  const turns: RecordedTurn[] = [];
  const byId = new Map<string, RecordedTurn>();
  let latest: Session | undefined;
  for (const step of h.steps) {
    if (step.kind === StepKind.ROLLBACK || step.kind === StepKind.FORK || step.kind === StepKind.INTERRUPTION || step.kind === StepKind.MIGRATION) {
      latest = byVersion.get(step.version) ?? latest;
      continue;
    }
    let turn = byId.get(step.turnId);
    if (turn === undefined) {
      turn = { steps: [], ...(latest ? { before: latest } : {}) };
      byId.set(step.turnId, turn);
      turns.push(turn);
    }
    turn.steps.push(step);
    // A failed turn commits nothing: its step carries the version it started from.
    const committed = step.version > (turn.before?.version ?? 0n) ? byVersion.get(step.version) : undefined;
    if (committed !== undefined) {
      turn.after = committed;
      latest = committed;
    } else if (step.status === StepStatus.FAILED && step.error !== undefined) {
      turn.error = { code: step.error.code, message: step.error.message };
    }
  }
  return turns;
}

/**
 * recordCase writes a stored session as a case file (YAML): each turn's
 * input; each agent call's reply as a scripted reply matched to its turn
 * and stage (so a changed flow that calls an agent elsewhere finds no
 * reply); and what happened after each turn as its expectations — stage,
 * agent, reply, status, the state keys the turn changed, the end.
 */
export function recordCase(h: SessionHistory, opts: { name?: string } = {}): string {
  const { session } = h;
  const stubs: Record<string, JsonObject[]> = {};
  const turns: JsonObject[] = [];
  recordedTurns(h).forEach((turn, i) => {
    // Branch steps of a parallel stage carry no input; the stage's own step does.
    const input = turn.steps.find((s) => s.input !== undefined)?.input;
    const explicit = (input?.intent ?? "") !== "" || input?.event !== undefined;
    for (const step of turn.steps) {
      const reply = stubReply(step, i + 1, explicit);
      if (reply !== undefined) (stubs[step.agent] ??= []).push(reply);
    }
    const t: JsonObject = {};
    if (input?.text) t["text"] = input.text;
    if (input?.intent) t["intent"] = input.intent;
    if (input?.event) t["event"] = input.event.data && Object.keys(input.event.data).length > 0 ? { type: input.event.type, data: input.event.data } : input.event.type;
    if (input && Object.keys(input.metadata).length > 0) t["metadata"] = { ...input.metadata };
    t["expect"] = expectation(turn);
    turns.push(t);
  });
  const when = session.createTime ? timestampDate(session.createTime).toISOString() : "";
  const doc = new Document({
    flow: `${session.flowId}@${session.flowVersion}`,
    account: session.accountId,
    cases: [{ name: opts.name ?? `session ${session.id}`, stubs, turns }],
  });
  doc.commentBefore = ` Recorded from session ${session.id} (flow ${session.flowId}@${session.flowVersion}${when ? `, started ${when}` : ""}).\n The agents' replies are scripted as they were; edit freely.`;
  // Short mappings on one line read better: match, next, event, metadata.
  visit(doc, {
    Pair(_, pair) {
      if (isPair(pair) && isScalar(pair.key) && ["match", "next", "state", "event", "metadata", "end"].includes(String(pair.key.value)) && isMap(pair.value)) pair.value.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function stubReply(step: Step, turn: number, explicit: boolean): JsonObject | undefined {
  if (step.agent === "") return undefined;
  if (step.kind !== StepKind.TURN && step.kind !== StepKind.BRANCH && step.kind !== StepKind.COMPENSATION) return undefined;
  const match: JsonObject = { turn, stage: step.stage };
  if (step.kind === StepKind.COMPENSATION) match["intent"] = step.intent;
  if (step.status === StepStatus.FAILED) {
    // A reply that asked to fail the turn, or an agent call that failed.
    if (step.next?.action === Action.FAIL) return { match, next: { action: "fail", reason: step.next.reason } };
    const failed = /^agent \S+ failed the turn: (.*)$/.exec(step.error?.message ?? "");
    if (failed) return { match, next: { action: "fail", reason: failed[1] ?? "" } };
    if (step.error && step.attempts > 0 && !["failed_precondition", "invalid_argument", "canceled"].includes(step.error.code)) {
      return { match, error: { code: step.error.code, message: step.error.message } };
    }
    return undefined;
  }
  const reply: JsonObject = { match };
  // The step's intent is the agent's own only when the turn named none.
  if (step.kind === StepKind.TURN && !explicit && step.intent !== "") reply["intent"] = step.intent;
  if (step.output !== "") reply["text"] = step.output;
  if (step.statePatch !== undefined && Object.keys(step.statePatch).length > 0) reply["state"] = step.statePatch;
  const next = step.next;
  if (next !== undefined && next.action !== Action.UNSPECIFIED) {
    const action = (Action[next.action] ?? "advance").toLowerCase();
    const extra = { ...(next.targetStage ? { target_stage: next.targetStage } : {}), ...(next.targetAgent ? { target_agent: next.targetAgent } : {}), ...(next.reason ? { reason: next.reason } : {}) };
    reply["next"] = Object.keys(extra).length === 0 ? action : { action, ...extra };
  }
  return reply;
}

function expectation(turn: RecordedTurn): JsonObject {
  if (turn.after === undefined) {
    return turn.error ? { error: turn.error.code, error_contains: turn.error.message } : {};
  }
  const after = turn.after;
  const x: JsonObject = {
    stage: after.stage,
    agent: lastAgent(turn.steps) || after.agent,
    reply: repliesOf(turn.steps),
    status: statusName(after.status),
  };
  const state = stateChecks((turn.before?.state ?? {}) as JsonObject, (after.state ?? {}) as JsonObject);
  if (state.length > 0) x["state"] = state;
  if (after.summary !== undefined && after.status !== SessionStatus.ACTIVE && after.status !== SessionStatus.WAITING) {
    x["end"] = { outcome: after.summary.outcome, stages: [...after.summary.stages] };
  }
  return x;
}

/**
 * stateChecks writes, as CEL, what a turn did to the state: each key it
 * set equals its new value, each key it removed is gone.
 */
export function stateChecks(before: JsonObject, after: JsonObject): string[] {
  const checks: string[] = [];
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(value)) checks.push(`${stateRef(key)} == ${celLiteral(value)}`);
  }
  for (const key of Object.keys(before)) if (!(key in after)) checks.push(`!has(${stateRef(key)})`);
  return checks;
}

const reserved = new Set(["true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"]);

function stateRef(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !reserved.has(key) ? `state.${key}` : `state[${JSON.stringify(key)}]`;
}

/**
 * celLiteral writes a JSON value as a CEL literal; numbers as doubles,
 * as the state holds them.
 */
export function celLiteral(v: JsonValue): string {
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 1e21 ? `${v}.0` : String(v);
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(celLiteral).join(", ")}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${celLiteral(x)}`).join(", ")}}`;
}
