import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { AgentInvoker } from "../core/ports.js";
import { lastAgent } from "../core/turn-attempt.js";
import { repliesOf } from "../core/turn-commit.js";
import { parseCaseFile } from "./case-file.js";
import { recordCase, recordedTurns, type SessionHistory } from "./case-record.js";
import { runCase, statusName, type TurnView } from "./case-run.js";

/**
 * ReplayedFacts are what a turn left behind, recorded or replayed.
 */
export interface ReplayedFacts {
  stage: string;
  agent: string;
  reply: string;
  status: string;
  state: JsonObject;
  /** For a turn that failed: its error code and message. */
  error?: string;
}

/**
 * StateChange is one key of the state that differs: absent on a side when
 * that side does not have the key.
 */
export interface StateChange {
  key: string;
  recorded?: JsonValue;
  replayed?: JsonValue;
}

/**
 * TurnDeparture is one turn where the replay did not do what the recording did.
 */
export interface TurnDeparture {
  /** The turn (1-based). */
  turn: number;
  /** The stage the turn ran in, as recorded. */
  stage: string;
  /** What the turn said, for reports. */
  input: string;
  /** Each fact that differs, recorded then replayed. */
  differ: Array<{ what: "stage" | "agent" | "reply" | "status" | "error"; recorded: string; replayed: string }>;
  /** The keys of the state that differ and did not differ so after the turn before. */
  state: StateChange[];
}

/**
 * SessionReplay is how one recorded session went against another flow version.
 */
export interface SessionReplay {
  session: string;
  /** The versions, as "id@version": the one recorded, the one replayed. */
  from: string;
  to: string;
  turns: number;
  departures: TurnDeparture[];
  /** The turn the recording could not answer, and why; the replay stopped there. */
  stopped?: { turn: number; reason: string };
  /** Where the conversation ended up: status (and the summary's outcome). */
  outcome: { recorded: string; replayed: string };
}

/**
 * replaySession runs a recorded session's inputs against a flow version,
 * in memory, answering each agent call with the reply recorded for the
 * same agent at the same turn and stage. It compares each turn with the
 * recording, and stops at the first call the recording cannot answer, or,
 * given `live`, calls the live agent there instead. The
 * stored session is not touched: everything runs on a copy in memory.
 */
export async function replaySession(history: SessionHistory, flow: Flow, live?: AgentInvoker): Promise<SessionReplay> {
  const recorded = recordedTurns(history);
  const parsed = parseCaseFile(recordCase(history), `session ${history.session.id}`);
  const testCase = parsed.cases[0];
  if (testCase === undefined) throw new Error(`session ${history.session.id} could not be read as a case: ${parsed.problems.map((p) => p.message).join("; ")}`);
  const run = await runCase({ ...testCase, flowId: flow.id, flowVersion: flow.version }, flow, { all: true, ...(live ? { live, liveFallback: true } : {}) });
  const departures: TurnDeparture[] = [];
  let stopped: SessionReplay["stopped"];
  let shown = new Map<string, string>();
  for (const [i, view] of run.turns.entries()) {
    if (view.miss !== undefined) {
      stopped = { turn: i + 1, reason: `the recording has no reply of agent ${view.miss.agent} at stage ${view.miss.stage}${view.miss.intent ? ` (intent ${view.miss.intent})` : ""} in turn ${i + 1}` };
      break;
    }
    const turn = recorded[i];
    if (turn === undefined) break;
    const before = factsOf(turn);
    const after = replayedFacts(view);
    const differ: TurnDeparture["differ"] = [];
    for (const what of ["error", "stage", "agent", "reply", "status"] as const) {
      const r = before[what] ?? "";
      const n = after[what] ?? "";
      if (r !== n) differ.push({ what, recorded: r, replayed: n });
    }
    // A difference of the state shows once, at the turn it appears (or changes).
    const diff = stateDiff(before.state, after.state);
    const state = diff.filter((c) => shown.get(c.key) !== canonical(c.recorded) + canonical(c.replayed));
    shown = new Map(diff.map((c) => [c.key, canonical(c.recorded) + canonical(c.replayed)]));
    if (differ.length > 0 || state.length > 0) {
      const input = testCase.turns[i]?.input;
      departures.push({ turn: i + 1, stage: turn.steps[0]?.stage ?? "", input: input?.text || (input?.event ? `[event ${input.event.type}]` : input?.intent ? `[intent ${input.intent}]` : ""), differ, state });
    }
  }
  const last = history.session;
  const end = run.turns.at(-1);
  return {
    session: history.session.id,
    from: `${last.flowId}@${last.flowVersion}`,
    to: `${flow.id}@${flow.version}`,
    turns: recorded.length,
    departures,
    ...(stopped ? { stopped } : {}),
    outcome: {
      recorded: outcomeOf(statusName(last.status), last.summary?.outcome),
      replayed: stopped ? `stopped at turn ${stopped.turn}` : outcomeOf(end?.status ?? "", end?.session?.summary?.outcome),
    },
  };
}

function outcomeOf(status: string, summary: string | undefined): string {
  return summary ? `${status} (${summary})` : status;
}

function factsOf(turn: ReturnType<typeof recordedTurns>[number]): ReplayedFacts {
  const after = turn.after ?? turn.before;
  return {
    stage: after?.stage ?? "",
    agent: turn.after ? lastAgent(turn.steps) || turn.after.agent : "",
    reply: turn.after ? repliesOf(turn.steps) : "",
    status: statusName(after?.status ?? 0),
    state: (after?.state ?? {}) as JsonObject,
    ...(turn.error ? { error: `${turn.error.code}: ${turn.error.message}` } : {}),
  };
}

function replayedFacts(view: TurnView): ReplayedFacts {
  return {
    stage: view.stage,
    agent: view.error ? "" : view.agent,
    reply: view.error ? "" : view.reply,
    status: view.status,
    state: view.state,
    ...(view.error ? { error: `${view.error.code}: ${view.error.message}` } : {}),
  };
}

/**
 * stateDiff lists the keys whose values differ between two states.
 */
export function stateDiff(recorded: JsonObject, replayed: JsonObject): StateChange[] {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
  const out: StateChange[] = [];
  for (const key of keys) {
    const r = recorded[key];
    const n = replayed[key];
    if (canonical(r) === canonical(n)) continue;
    out.push({ key, ...(r !== undefined ? { recorded: r } : {}), ...(n !== undefined ? { replayed: n } : {}) });
  }
  return out;
}

/**
 * canonical writes a JSON value with its keys sorted, so two states that
 * hold the same values compare equal whatever order their keys came in.
 */
function canonical(v: JsonValue | undefined): string {
  if (v === undefined) return "";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
}
