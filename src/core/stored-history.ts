import { create } from "@bufbuild/protobuf";
import { type SendTurnResponse, SendTurnResponseSchema, type SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, type Step, StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { SessionStore } from "./ports.js";
import { type EventIds, event, seqDetail, stepLastSeq, turnHopEvents } from "./session-events.js";

// Which stored events are a session's history
// -------------------------------------------
// A committed version's events are history, always. A failed turn's record
// (its `failed` event) is history too, unless the session's next committed
// version was numbered over it: a failure recorded by one replica while
// another replica committed the next version from the same starting point
// (a race between replicas, such as one turn sent to both) is left out. A
// replica that knows of a failure numbers the next turn after it, so a
// failure followed by a turn on the same replica, or by a turn on a replica
// that read it, stays. Events come strictly in order: a record whose events
// are not all after the last event kept is left out. Every replica reads
// the same records and applies the same rules, so every replica replays the
// same history. A run that lost a race and ran again, and a failure nobody
// stored, are never history.

/**
 * StoredPosition is where a session's stored history stands: its latest
 * version and the seq of its last event.
 */
export interface StoredPosition {
  lastSeq: bigint;
  version: bigint;
}

/**
 * storedPosition reads where a session's history stands, in work that does
 * not grow with the session: its latest version, which records its last
 * seq, and the failures recorded at that version. Sessions stored before
 * versions recorded their last seq are read in full, once.
 */
export async function storedPosition(store: SessionStore, sessionId: string): Promise<StoredPosition> {
  const session = await store.get(sessionId);
  if (session === undefined) return { lastSeq: 0n, version: 0n };
  return { version: session.version, lastSeq: await positionAt(store, sessionId, session.version, session.lastSeq) };
}

/**
 * positionAt is the seq of the last event of a session's history at
 * `version`, whose session records `lastSeq`: the later of that and the
 * failures recorded at the version.
 */
export async function positionAt(store: SessionStore, sessionId: string, version: bigint, lastSeq: bigint): Promise<bigint> {
  if (version > 0n && lastSeq === 0n) return (await scanPosition(store, sessionId)).lastSeq;
  const failed = await store.failureEnd(sessionId, version);
  return failed > lastSeq ? failed : lastSeq;
}

async function scanPosition(store: SessionStore, sessionId: string): Promise<StoredPosition> {
  let lastSeq = 0n;
  let version = 0n;
  for await (const step of allSteps(store, sessionId)) {
    if (step.version > version) version = step.version;
    const last = stepLastSeq(step);
    if (last > lastSeq) lastSeq = last;
  }
  return { lastSeq, version };
}

/** StoredTurn is one turn's records in the audit trail, with its end's seq. */
interface StoredTurn {
  steps: Step[];
  end: bigint;
  failed: boolean;
}

/**
 * storedEvents rebuilds a session's history with seq in (after, upTo]
 * from its audit trail, reading it a page at a time as the caller consumes
 * the events. Failed turns come back as their `failed` event only (their
 * partial output was never stored); audio and chunk boundaries are not
 * stored, so a reply comes back as one chunk of text.
 */
export async function* storedEvents(store: SessionStore, sessionId: string, after: bigint, upTo: bigint): AsyncGenerator<SessionEvent> {
  let steps: Step[] = [];
  // Failures wait for the next committed version, which may leave them out.
  const failures: StoredTurn[] = [];
  let kept = 0n;
  const emit = async function* (turn: StoredTurn): AsyncGenerator<SessionEvent> {
    if (firstSeq(turn) <= kept) return;
    kept = turn.end;
    if (turn.end > after) yield* await turnEvents(store, sessionId, turn, after, upTo);
  };
  for await (const step of allSteps(store, sessionId)) {
    if (stepLastSeq(step) === 0n) continue;
    if (steps.length > 0 && steps[0]?.turnId !== step.turnId) steps = [];
    steps.push(step);
    const end = seqDetail(step, "seq_end");
    if (end === undefined) continue;
    const turn: StoredTurn = { steps, end, failed: step.status === StepStatus.FAILED };
    steps = [];
    if (turn.failed) {
      failures.push(turn);
      continue;
    }
    const start = firstSeq(turn);
    for (const f of failures.splice(0)) if (f.end < start) yield* emit(f);
    yield* emit(turn);
    if (turn.end >= upTo) return;
  }
  for (const f of failures) yield* emit(f);
}

/** firstSeq is the seq of a stored turn's first event. */
function firstSeq(turn: StoredTurn): bigint {
  let first = turn.end;
  for (const step of turn.steps) {
    const accepted = seqDetail(step, "seq_accepted");
    if (accepted !== undefined && accepted < first) first = accepted;
  }
  return first;
}

async function* allSteps(store: SessionStore, sessionId: string): AsyncGenerator<Step> {
  let token = "";
  do {
    const page = await store.listSteps(sessionId, { pageSize: 1000, pageToken: token });
    yield* page.items;
    token = page.nextPageToken;
  } while (token !== "");
}

async function turnEvents(store: SessionStore, sessionId: string, turn: StoredTurn, after: bigint, upTo: bigint): Promise<SessionEvent[]> {
  const { steps, end } = turn;
  const last = steps[steps.length - 1] as Step;
  const ids: EventIds = { sessionId, turnId: last.turnId };
  const out = turnHopEvents(steps, ids, after, upTo);
  if (end <= after || end > upTo) return out;
  if (last.status === StepStatus.FAILED) {
    out.push(event(ids, end, { case: "failed", value: { code: last.error?.code ?? "unknown", message: last.error?.message ?? "" } }));
    return out;
  }
  const snapshot = await store.snapshot(sessionId, last.version);
  const session = snapshot?.session;
  const interrupted = steps.some((s) => s.status === StepStatus.INTERRUPTED);
  const result: SendTurnResponse = create(SendTurnResponseSchema, {
    sessionId,
    turnId: last.turnId,
    output: steps.map((s) => s.output).filter((o) => o !== "").join("\n"),
    agent: last.agent,
    stageCompleted: last.stage,
    nextStage: session?.stage ?? last.nextStage,
    isComplete: session?.status === SessionStatus.COMPLETED,
    interrupted,
    ...(session !== undefined ? { session } : {}),
  });
  if (!interrupted) {
    out.push(event(ids, end, { case: "completed", value: { result } }));
  } else {
    out.push(
      event(ids, end, {
        case: "interrupted",
        value: {
          heard: steps.map((s) => s.output).join(""),
          heardMs: Number(last.details["heard_ms"] ?? 0),
          result,
          afterCompletion: last.kind === StepKind.INTERRUPTION,
        },
      }),
    );
  }
  return out;
}
