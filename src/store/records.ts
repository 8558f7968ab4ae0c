import { create } from "@bufbuild/protobuf";
import { copyMessage } from "../core/copy-message.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Session,
  SessionSchema,
  type Snapshot,
  SnapshotSchema,
  type Step,
  StepSchema,
} from "../gen/switchboard/v1/session_pb.js";
import type { Commit, Page } from "../core/ports.js";

/**
 * versionKeyLength is how many digits a version key has: enough for any
 * version a session can reach, so keys sort as their versions do.
 */
const versionKeyLength = 20;

/**
 * versionKey is a version as a zero-padded key: it sorts as versions do,
 * and is the page token of snapshot listings and the start of step ids.
 */
export function versionKey(version: bigint | number): string {
  return version.toString().padStart(versionKeyLength, "0");
}

/**
 * versionKeyOfStep is the version key a step id starts with: the version
 * the step was committed in, or the one a failed turn was recorded at.
 */
export function versionKeyOfStep(stepId: string): string {
  return stepId.slice(0, versionKeyLength);
}

/**
 * committedStepId is the id of the i-th step of a committed version. Ids
 * sort in audit-trail order: zero-padded version, then position.
 */
export function committedStepId(version: bigint, index: number): string {
  return `${versionKey(version)}.${index.toString().padStart(4, "0")}`;
}

/**
 * failedStepId is the id of a failed turn's step recorded while the session
 * was at `version`. It sorts after that version's committed steps ("~"
 * follows digits) and before the next version's.
 */
export function failedStepId(version: bigint, at: Date, turnId: string): string {
  return `${versionKey(version)}.~${at.getTime().toString().padStart(15, "0")}.${turnId}`;
}

/**
 * failedStepIdRange is the range of the ids of the failed turns recorded at
 * `version`: [from, to).
 */
export function failedStepIdRange(version: bigint | number): { from: string; to: string } {
  const key = versionKey(version);
  return { from: `${key}.~`, to: `${key}.~\uffff` };
}

/**
 * committedStepOf is the i-th step of a commit as stored: a copy with its
 * audit-trail id and the version it made.
 */
export function committedStepOf(step: Step, version: bigint, index: number): Step {
  const s = copyMessage(StepSchema, step);
  s.id = committedStepId(version, index);
  s.version = version;
  return s;
}

/**
 * failedStepOf is a failed turn's step as stored: a copy with its
 * audit-trail id and no version, since it changed none.
 */
export function failedStepOf(step: Step, version: bigint, at: Date, turnId: string): Step {
  const s = copyMessage(StepSchema, step);
  s.id = failedStepId(version, at, turnId);
  s.version = 0n;
  return s;
}

/**
 * checkNextVersion throws unless a commit's session is one version past
 * the version it builds on. That is the engine's bug, not a race: a plain
 * Error, never ABORTED, so nothing retries it.
 */
export function checkNextVersion(commit: Commit): void {
  const { session, expectedVersion } = commit;
  if (session.version !== expectedVersion + 1n) {
    throw new Error(`commit of version ${session.version} from ${expectedVersion}: versions must grow by one`);
  }
}

/**
 * snapshotOf is the snapshot of a committed session version. With `copy`
 * false it holds the session itself, for a caller that encodes it at once
 * or keeps a private copy it never changes.
 */
export function snapshotOf(session: Session, reason: string, now: Date, copy = true): Snapshot {
  return create(SnapshotSchema, {
    sessionId: session.id,
    version: session.version,
    session: copy ? copyMessage(SessionSchema, session) : session,
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

/**
 * cutPage takes one page of `size` rows out of rows read in order, where
 * reading one row more than a page tells whether another page follows.
 * The next page token is the key of the page's last row, or "" at the end.
 */
export function cutPage<T>(rows: T[], size: number, key: (row: T) => string): Page<T> {
  const items = rows.slice(0, size);
  const last = items[items.length - 1];
  return { items, nextPageToken: rows.length > size && last !== undefined ? key(last) : "" };
}

/** emptyPage is the page of a listing that found nothing. */
export function emptyPage<T>(): Page<T> {
  return { items: [], nextPageToken: "" };
}
