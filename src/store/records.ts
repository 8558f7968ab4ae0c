import { clone, create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Session,
  SessionSchema,
  type Snapshot,
  SnapshotSchema,
} from "../gen/switchboard/v1/session_pb.js";

/**
 * committedStepId is the id of the i-th step of a committed version. Ids
 * sort in audit-trail order: zero-padded version, then position.
 */
export function committedStepId(version: bigint, index: number): string {
  return `${version.toString().padStart(20, "0")}.${index.toString().padStart(4, "0")}`;
}

/**
 * failedStepId is the id of a failed turn's step recorded while the session
 * was at `version`. It sorts after that version's committed steps ("~"
 * follows digits) and before the next version's.
 */
export function failedStepId(version: bigint, at: Date, turnId: string): string {
  return `${version.toString().padStart(20, "0")}.~${at.getTime().toString().padStart(15, "0")}.${turnId}`;
}

/**
 * snapshotOf is the snapshot of a committed session version.
 */
export function snapshotOf(session: Session, reason: string, now: Date): Snapshot {
  return create(SnapshotSchema, {
    sessionId: session.id,
    version: session.version,
    session: clone(SessionSchema, session),
    createTime: timestampFromDate(now),
    reason,
  });
}

/**
 * pageSize clamps a requested page size to [1, max], with a default for 0.
 */
export function pageSize(requested: number, fallback: number, max: number): number {
  if (requested <= 0) return fallback;
  return Math.min(requested, max);
}
