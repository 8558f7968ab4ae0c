import { create } from "@bufbuild/protobuf";
import { copyMessage } from "./copy-message.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Session, SessionSchema, SessionStatus, type Step, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Role, type TranscriptEntry, TranscriptEntrySchema, type TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import { codePoints, prefixCodePoints } from "./session-events.js";
import { historyWindow } from "./turn.js";
import type { TurnPlan } from "./turn-plan.js";
import { noteBargeIn } from "./tally.js";

/**
 * Heard is how much of a reply the user heard, as the client reported it:
 * a count of characters (code points) of the streamed reply, milliseconds
 * of its audio, both, or neither.
 */
export interface Heard {
  chars?: number;
  ms?: number;
}

/**
 * Interruption is the abort reason of a turn cancelled by a barge-in. The
 * engine commits such a turn with the reply as heard instead of failing it.
 */
export class Interruption extends Error {
  constructor(readonly heard: Heard) {
    super("the user barged in");
    this.name = "Interruption";
  }
}

/**
 * heardPart returns the part of a streamed reply the user heard: the first
 * `chars` code points; without `chars`, nothing when `ms` is 0 and all of
 * it otherwise (the client said nothing more precise than that it was
 * delivered).
 */
export function heardPart(streamed: string, heard: Heard): string {
  if (heard.chars !== undefined) return prefixCodePoints(streamed, heard.chars);
  return heard.ms === 0 ? "" : streamed;
}

/**
 * InterruptedTurn is a turn cut short by a barge-in, ready to commit.
 */
export interface InterruptedTurn {
  session: Session;
  steps: Step[];
  /** What the user heard of the turn's reply (all its agent calls). */
  heard: string;
}

/**
 * InterruptFacts are what interruptTurn needs to know about the turn.
 */
export interface InterruptFacts {
  turnId: string;
  /** The version the turn commits. */
  version: bigint;
  input: TurnInput;
  heard: Heard;
  startedAt: Date;
  now: Date;
  ttlMs: number;
}

/**
 * interruptTurn builds the version a barge-in commits. `current` is the
 * session after the agent calls that completed in this turn (`done`, with
 * what each streamed); `running` is the call that was cancelled. Completed
 * calls keep their effects (state, stage) but their replies are cut to what
 * was heard; the cancelled call changes nothing but the transcript, which
 * records its reply as heard and marked interrupted. The session stays in
 * the cancelled call's stage.
 */
export function interruptTurn(
  current: Session,
  done: Array<{ step: Step; streamed: string }>,
  running: { plan: TurnPlan; streamed: string } | undefined,
  facts: InterruptFacts,
): InterruptedTurn {
  const session = copyMessage(SessionSchema, current);
  const streamedAll = done.map((d) => d.streamed).join("") + (running?.streamed ?? "");
  const heard = heardPart(streamedAll, facts.heard);
  let budget = codePoints(heard);
  const take = (streamed: string) => {
    const part = prefixCodePoints(streamed, budget);
    budget -= codePoints(part);
    return part;
  };
  const ms = facts.heard.ms;
  const steps: Step[] = [];
  for (const d of done) {
    const step = copyMessage(StepSchema, d.step);
    const part = take(d.streamed);
    if (part !== d.streamed || (running === undefined && d === done[done.length - 1])) {
      markHeard(step, part, ms);
      cutEntry(session.history, step, part, ms);
    }
    steps.push(step);
  }
  if (running !== undefined) {
    const part = take(running.streamed);
    const stage = running.plan.stage.name;
    if (done.length === 0) {
      const said = facts.input.text || (facts.input.event ? `[event ${facts.input.event.type}]` : "");
      if (said !== "") {
        session.history.push(create(TranscriptEntrySchema, { role: Role.USER, text: said, turnId: facts.turnId, stage }));
      }
    }
    session.history.push(
      create(TranscriptEntrySchema, {
        role: Role.AGENT,
        text: part,
        agent: running.plan.agent,
        turnId: facts.turnId,
        stage,
        interrupted: true,
        heardMs: ms ?? 0,
      }),
    );
    session.agent = running.plan.agent;
    session.status = SessionStatus.ACTIVE;
    session.waiting = undefined;
    const step = create(StepSchema, {
      sessionId: session.id,
      turnId: facts.turnId,
      kind: StepKind.TURN,
      stage,
      intent: running.plan.intent,
      input: facts.input,
      agent: running.plan.agent,
      attempts: 1,
      nextStage: session.stage,
      startTime: timestampFromDate(facts.startedAt),
      endTime: timestampFromDate(facts.now),
      details: running.plan.handoffFrom ? { handoff_from: running.plan.handoffFrom } : {},
    });
    markHeard(step, part, ms);
    steps.push(step);
  }
  trimHistory(session);
  noteBargeIn(session);
  for (const step of steps) step.version = facts.version;
  stamp(session, facts.version, facts.now, facts.ttlMs);
  return { session, steps, heard };
}

/**
 * AmendFacts are what amendHeard needs to know.
 */
export interface AmendFacts {
  /** The turn whose reply was interrupted; empty for the latest turn. */
  turnId: string;
  heard: Heard;
  now: Date;
  ttlMs: number;
}

/**
 * Amendment is the outcome of amendHeard.
 */
export type Amendment =
  | { kind: "amended"; session: Session; step: Step; heard: string; turnId: string }
  | { kind: "unchanged"; turnId: string }
  | { kind: "not-latest"; latest: string };

/**
 * amendHeard handles a barge-in that arrives after the turn's reply was
 * complete but while the user was still hearing it: the session's latest
 * turn gets its reply cut to what was heard and marked interrupted, in a
 * new version whose step has kind INTERRUPTION. Only the latest turn can be
 * amended (a later turn's agent already saw the earlier transcript); an
 * already interrupted reply, or one heard in full, is left unchanged.
 */
export function amendHeard(current: Session, facts: AmendFacts): Amendment {
  const latest = [...current.history].reverse().find((e) => e.role !== Role.SYSTEM)?.turnId ?? "";
  const turnId = facts.turnId || latest;
  if (turnId === "" || turnId !== latest) return { kind: "not-latest", latest };
  const session = copyMessage(SessionSchema, current);
  const replies = session.history.filter((e) => e.role === Role.AGENT && e.turnId === turnId);
  if (replies.length === 0 || replies.some((e) => e.interrupted)) return { kind: "unchanged", turnId };
  const streamed = replies.map((e) => e.text).join("");
  const heard = heardPart(streamed, facts.heard);
  if (heard === streamed && facts.heard.ms === undefined) return { kind: "unchanged", turnId };
  let budget = codePoints(heard);
  for (const entry of replies) {
    const part = prefixCodePoints(entry.text, budget);
    budget -= codePoints(part);
    if (part !== entry.text || entry === replies[replies.length - 1]) {
      entry.text = part;
      entry.interrupted = true;
      entry.heardMs = facts.heard.ms ?? 0;
    }
  }
  const last = replies[replies.length - 1] as TranscriptEntry;
  const version = current.version + 1n;
  noteBargeIn(session);
  stamp(session, version, facts.now, facts.ttlMs);
  const step = create(StepSchema, {
    sessionId: session.id,
    version,
    turnId,
    kind: StepKind.INTERRUPTION,
    stage: last.stage,
    agent: last.agent,
    nextStage: session.stage,
    startTime: timestampFromDate(facts.now),
    endTime: timestampFromDate(facts.now),
  });
  markHeard(step, heard, facts.heard.ms);
  return { kind: "amended", session, step, heard, turnId };
}

function markHeard(step: Step, heard: string, ms: number | undefined): void {
  step.status = StepStatus.INTERRUPTED;
  step.output = heard;
  step.details = { ...step.details, heard_chars: codePoints(heard).toString(), ...(ms !== undefined ? { heard_ms: ms.toString() } : {}) };
}

/** cutEntry cuts the transcript entry of a completed call to what was heard. */
function cutEntry(history: TranscriptEntry[], step: Step, heard: string, ms: number | undefined): void {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i] as TranscriptEntry;
    if (e.role === Role.AGENT && e.turnId === step.turnId && e.agent === step.agent && e.stage === step.stage && !e.interrupted) {
      e.text = heard;
      e.interrupted = true;
      e.heardMs = ms ?? 0;
      return;
    }
  }
}

function trimHistory(session: Session): void {
  if (session.history.length > historyWindow) session.history.splice(0, session.history.length - historyWindow);
}

function stamp(session: Session, version: bigint, now: Date, ttlMs: number): void {
  session.version = version;
  session.updateTime = timestampFromDate(now);
  session.expireTime = timestampFromDate(new Date(now.getTime() + ttlMs));
}
