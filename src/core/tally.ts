import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type Session,
  type SessionSummary,
  SessionSummarySchema,
  type SessionTally,
  SessionTallySchema,
} from "../gen/switchboard/v1/session_pb.js";

/**
 * tallyLimit bounds the intents and agents a tally lists, so a session's
 * document stays small whatever its callers send.
 */
export const tallyLimit = 64;

/**
 * tallyOf returns a session's tally, creating it (with the stage clock
 * starting at the session's creation) on first use.
 */
export function tallyOf(session: Session): SessionTally {
  session.tally ??= create(SessionTallySchema, {
    ...(session.createTime ? { stageSince: session.createTime } : {}),
  });
  return session.tally;
}

/**
 * noteIntent adds an intent to the tally once, in order of first appearance.
 */
export function noteIntent(session: Session, intent: string): void {
  addOnce(tallyOf(session).intents, intent);
}

/**
 * noteAgent adds an agent to the tally once, in order of first appearance.
 */
export function noteAgent(session: Session, agent: string): void {
  addOnce(tallyOf(session).agents, agent);
}

/**
 * noteTurn counts a committed turn.
 */
export function noteTurn(session: Session): void {
  tallyOf(session).turns += 1;
}

/**
 * noteBargeIn counts a committed turn the caller barged in on.
 */
export function noteBargeIn(session: Session): void {
  tallyOf(session).bargeIns += 1;
}

/**
 * leaveStage adds the time since the session entered its current stage to
 * that stage's total and restarts the stage clock.
 */
export function leaveStage(session: Session, now: Date): void {
  const tally = tallyOf(session);
  const since = tally.stageSince ? timestampMs(tally.stageSince) : now.getTime();
  const spent = Math.max(0, now.getTime() - since);
  const before = tally.stageDurations[session.stage];
  tally.stageDurations[session.stage] = durationFromMs((before ? durationMs(before) : 0) + spent);
  tally.stageSince = timestampFromDate(now);
}

/**
 * summarize describes an ended session from its tally: the stages it
 * completed, its intents and agents, its turns, how long it took in all and
 * per stage, and its outcome.
 */
export function summarize(session: Session, outcome: string, now: Date): SessionSummary {
  leaveStage(session, now);
  const tally = tallyOf(session);
  const created = session.createTime ? timestampMs(session.createTime) : now.getTime();
  return create(SessionSummarySchema, {
    outcome,
    stages: [...session.completedStages],
    intents: [...tally.intents],
    agents: [...tally.agents],
    turns: tally.turns,
    duration: durationFromMs(Math.max(0, now.getTime() - created)),
    stageDurations: { ...tally.stageDurations },
  });
}

function addOnce(list: string[], item: string): void {
  if (item !== "" && list.length < tallyLimit && !list.includes(item)) list.push(item);
}
