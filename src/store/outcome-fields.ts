import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";

/**
 * OutcomeFields are what the outcomes per flow version are counted from,
 * kept beside each session (on its head in MongoDB) so that a database
 * can count them with plain `$match` and `$sum`, without decoding the
 * stored session.
 */
export interface OutcomeFields {
  flowVersion: string;
  /** Committed turns. */
  turns: number;
  /** Committed turns the caller barged in on. */
  bargeIns: number;
  /** Every stage the session entered. */
  stages: string[];
  /** From creation to the last commit, in ms. */
  durationMs: number;
}

/**
 * outcomeFieldsOf computes a session's outcome fields.
 */
export function outcomeFieldsOf(session: Session): OutcomeFields {
  const stages = new Set(Object.keys(session.stageVisits));
  if (session.stage !== "") stages.add(session.stage);
  const created = session.createTime ? timestampMs(session.createTime) : 0;
  const updated = session.updateTime ? timestampMs(session.updateTime) : created;
  return {
    flowVersion: session.flowVersion,
    turns: session.tally?.turns ?? 0,
    bargeIns: session.tally?.bargeIns ?? 0,
    stages: [...stages].sort(),
    durationMs: Math.max(0, updated - created),
  };
}

/**
 * hasEnded tells whether a session status is an end (completed or failed),
 * the sessions whose duration the median is taken over.
 */
export function hasEnded(status: SessionStatus): boolean {
  return status === SessionStatus.COMPLETED || status === SessionStatus.FAILED;
}
