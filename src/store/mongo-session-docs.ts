import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { randomBytes } from "node:crypto";
import { Binary, type Collection, type Db } from "mongodb";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionStatus,
  type Snapshot,
  SnapshotSchema,
  type Step,
  StepSchema,
} from "../gen/switchboard/v1/session_pb.js";
import type { Commit } from "../core/ports.js";
import { checkKey, recordIdPrefix, versionId } from "./mongo-version-id.js";
import type { RecentTurn } from "./mongo-turn-window.js";
import { committedStepOf, snapshotOf } from "./records.js";
import { outcomeFieldsOf } from "./outcome-fields.js";

/**
 * HeadDoc is a session's entry in the `sessions` collection: what listings,
 * filters and expiry need, and the session's incarnation. It is a summary
 * of the latest version, kept up to date after each commit; the versions
 * themselves live in `session_versions`.
 */
export interface HeadDoc {
  _id: string;
  /** A new random value each time the id is created: the records of a deleted or expired session never mix with a new one's. */
  inc: string;
  version: number;
  status: string;
  tenant: string;
  accountId: string;
  flowId: string;
  /** The flow version, for listings by version and the outcomes per version; absent on heads written before it was kept. */
  flowVersion?: string;
  /** The agents that served the session (its tally's), for listings by agent; absent on heads written before it was kept. */
  agents?: string[];
  stage: string;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  /**
   * The latest version's snapshot and turn window, copied from its version
   * document, so that a turn reads the head alone: what a turn needs does
   * not depend on how many versions the session has. Heads written before
   * it was kept have neither.
   */
  snapshot?: Binary;
  recentTurns?: RecentTurn[];
  /**
   * The highest seq of the failed turns recorded at the head's version (0
   * for none), so that where the session's events stand is read from the
   * head; absent on heads written before it was kept.
   */
  failureSeq?: number;
  /**
   * What the outcomes per flow version are counted from (OutcomeFields,
   * kept up to date with each commit), and the turns that failed and
   * committed nothing; absent on heads written before they were kept.
   */
  turns?: number;
  bargeIns?: number;
  stages?: string[];
  durationMs?: number;
  failedTurns?: number;
}

/**
 * VersionDoc is one committed version in `session_versions`: the snapshot
 * of the session after it, the audit-trail steps that made it, and the
 * turn's result for replays. Its `_id` is built by versionId (session,
 * incarnation, zero-padded version), so committing is inserting it: the
 * server's unique `_id` is the compare-and-set, one writer wins each
 * version and the other gets a duplicate-key error. That holds on every
 * server speaking the MongoDB protocol, FerretDB included (whose
 * conditional updates are not atomic), and needs no multi-document
 * transaction: a version is one document, so a crash can never leave half
 * of one.
 */
export interface VersionDoc {
  _id: string;
  session: string;
  inc: string;
  version: number;
  reason: string;
  createdAt: Date;
  /** The Snapshot, as Protobuf binary: no state key (`$where`, `a.b`) is ever read as an operator or a path. */
  snapshot: Binary;
  /** The version's steps, as Protobuf binary, in order. */
  steps: Binary[];
  /** The client's turn id, for replays. */
  turnId?: string;
  /** The turn's result without its session (the snapshot has it). */
  result?: Binary;
  /**
   * The client turn ids of the session's last `turnWindow` versions with
   * the version each was committed in, newest last: a retried turn is found
   * with the latest version, by `_id` alone.
   */
  recentTurns: RecentTurn[];
}

/** FailureDoc is a failed turn's step, in `session_failures`; its `_id` is a record id. */
export interface FailureDoc {
  _id: string;
  session: string;
  inc: string;
  createdAt: Date;
  step: Binary;
}

/**
 * SessionCollections are the collections a session store keeps its
 * documents in.
 */
export interface SessionCollections {
  heads: Collection<HeadDoc>;
  versions: Collection<VersionDoc>;
  failures: Collection<FailureDoc>;
}

/** sessionCollectionsOf names the store's collections in a database. */
export function sessionCollectionsOf(db: Db): SessionCollections {
  return {
    heads: db.collection<HeadDoc>("sessions"),
    versions: db.collection<VersionDoc>("session_versions"),
    failures: db.collection<FailureDoc>("session_failures"),
  };
}

/** statusName is a session status as heads store it (and filters query it). */
function statusName(session: Session): string {
  return SessionStatus[session.status] ?? "UNSPECIFIED";
}

/**
 * expiryOf is when a head expires: the session's own expiry, else an hour
 * after `now`.
 */
export function expiryOf(session: Session, now: Date): Date {
  return session.expireTime ? timestampDate(session.expireTime) : new Date(now.getTime() + 3_600_000);
}

/**
 * newHeadOf is the head of a new incarnation of a session, at version 0
 * until its version 1 is committed.
 */
export function newHeadOf(session: Session, now: Date): HeadDoc {
  return {
    _id: session.id,
    inc: randomBytes(6).toString("base64url"),
    version: 0,
    status: statusName(session),
    tenant: session.tenant,
    accountId: session.accountId,
    flowId: session.flowId,
    agents: session.tally?.agents ?? [],
    stage: session.stage,
    createdAt: now,
    updatedAt: now,
    expiresAt: expiryOf(session, now),
    failureSeq: 0,
    ...outcomeFieldsOf(session),
    failedTurns: 0,
  };
}

/**
 * headUpdateOf is the update that brings a head up to a committed version,
 * with that version's snapshot and turn window. It is applied only to a
 * head that names an older version (see headFilterOf), so updates of two
 * commits that cross never move it back.
 */
export function headUpdateOf(session: Session, now: Date, doc: Pick<VersionDoc, "snapshot" | "recentTurns">) {
  return {
    $set: {
      version: Number(session.version),
      status: statusName(session),
      stage: session.stage,
      agents: session.tally?.agents ?? [],
      updatedAt: now,
      expiresAt: expiryOf(session, now),
      snapshot: doc.snapshot,
      recentTurns: doc.recentTurns,
      // A new version has no failed turns yet.
      failureSeq: 0,
      ...outcomeFieldsOf(session),
    },
  };
}

/**
 * headFilterOf matches the head of incarnation `inc` while it names a
 * version older than `version`: the only head headUpdateOf may change.
 */
export function headFilterOf(id: string, inc: string, version: number) {
  return { _id: id, inc, version: { $lt: version } };
}

/**
 * headVersionOf is the latest version a head carries, in the shape of its
 * version document (without the steps and the turn's result, which only
 * the version document has); undefined for a head that carries none or
 * whose copy does not match the version it names.
 */
export function headVersionOf(head: HeadDoc): VersionDoc | undefined {
  if (head.snapshot === undefined || head.version < 1) return undefined;
  const snapshot = head.snapshot;
  const decoded = fromBinary(SnapshotSchema, snapshot.buffer);
  // A head whose version moved without its copy (an update by an older
  // release) carries no usable version.
  if (decoded.session?.version !== BigInt(head.version)) return undefined;
  const doc: VersionDoc = {
    _id: versionId(recordIdPrefix(head._id, head.inc), head.version),
    session: head._id,
    inc: head.inc,
    version: head.version,
    reason: "",
    createdAt: head.updatedAt,
    snapshot,
    steps: [],
    recentTurns: head.recentTurns ?? [],
  };
  // Decoded once: the turn reading it decodes no more.
  decodedSnapshots.set(doc, decoded);
  return doc;
}

/**
 * versionDocOf encodes a commit as the version document that inserting
 * commits it, in incarnation `inc`, remembering `recentTurns`.
 */
export function versionDocOf(commit: Commit, inc: string, now: Date, recentTurns: RecentTurn[]): VersionDoc {
  const { session } = commit;
  const version = Number(session.version);
  return {
    _id: versionId(recordIdPrefix(session.id, inc), version),
    session: session.id,
    inc,
    version,
    reason: commit.reason,
    createdAt: now,
    snapshot: new Binary(toBinary(SnapshotSchema, snapshotOf(session, commit.reason, now, false))),
    steps: commit.steps.map((step, i) => new Binary(toBinary(StepSchema, committedStepOf(step, session.version, i)))),
    recentTurns,
    ...(commit.turn
      ? {
          turnId: checkKey(commit.turn.turnId),
          result: new Binary(toBinary(SendTurnResponseSchema, { ...commit.turn.result, session: undefined })),
        }
      : {}),
  };
}

/** versionBytesOf is the size of what a version document carries, for the store's limit. */
export function versionBytesOf(doc: VersionDoc): number {
  return doc.snapshot.length() + doc.steps.reduce((n, s) => n + s.length(), 0) + (doc.result?.length() ?? 0);
}

/** snapshotOfVersion decodes a version document's snapshot. */
export function snapshotOfVersion(doc: Pick<VersionDoc, "snapshot">): Snapshot {
  return decodedSnapshots.get(doc) ?? fromBinary(SnapshotSchema, doc.snapshot.buffer);
}

/** decodedSnapshots holds the snapshot of a version a head carried, decoded when it was read. */
const decodedSnapshots = new WeakMap<object, Snapshot>();

/** sessionOfVersion decodes the session a version document holds. */
export function sessionOfVersion(doc: Pick<VersionDoc, "snapshot">): Session | undefined {
  return snapshotOfVersion(doc).session;
}

/** stepsOfVersion decodes a version document's steps, in order. */
export function stepsOfVersion(doc: Pick<VersionDoc, "steps">): Step[] {
  return doc.steps.map((b) => fromBinary(StepSchema, b.buffer));
}

/**
 * resultOfVersion decodes the stored result of the turn that made a
 * version, with the session from its snapshot (the result is stored
 * without it).
 */
export function resultOfVersion(doc: VersionDoc): SendTurnResponse | undefined {
  if (doc.result === undefined) return undefined;
  const result = fromBinary(SendTurnResponseSchema, doc.result.buffer);
  const snapshot = snapshotOfVersion(doc);
  if (snapshot.session !== undefined) result.session = snapshot.session;
  return result;
}

/**
 * failureDocOf encodes a failed turn's step for the head's incarnation
 * (without its `_id`, which the caller upserts by).
 */
export function failureDocOf(head: HeadDoc, step: Step, now: Date): Omit<FailureDoc, "_id"> {
  return { session: head._id, inc: head.inc, createdAt: now, step: new Binary(toBinary(StepSchema, step)) };
}

/** stepOfFailure decodes a failure document's step. */
export function stepOfFailure(doc: FailureDoc): Step {
  return fromBinary(StepSchema, doc.step.buffer);
}
