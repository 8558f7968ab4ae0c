import type { ConnectError } from "@connectrpc/connect";
import type { Session, Step } from "../gen/switchboard/v1/session_pb.js";
import { aborted, invalidArgument, mark } from "../core/errors.js";
import type { Commit } from "../core/ports.js";
import { guard, isDuplicateKey } from "./mongo-errors.js";
import { deleteRecords } from "./mongo-expiry.js";
import { stepLastSeq } from "../core/session-events.js";
import type { KnownVersion } from "./mongo-known-versions.js";
import type { SessionReads } from "./mongo-reads.js";
import {
  failureDocOf,
  type HeadDoc,
  headFilterOf,
  headUpdateOf,
  newHeadOf,
  type VersionDoc,
  versionBytesOf,
  versionDocOf,
} from "./mongo-session-docs.js";
import { recentTurnOf, recentTurnsAfter } from "./mongo-turn-window.js";
import { checkKey, recordId, recordIdPrefix, versionId } from "./mongo-version-id.js";
import { checkNextVersion, failedStepOf } from "./records.js";

/**
 * CommitLimits are the store's settings a commit needs.
 */
export interface CommitLimits {
  /** The largest version document, in bytes. */
  maxDocumentBytes: number;
  /** Called when a committed version's head could not be updated. */
  onBackgroundError?: ((err: unknown, what: string) => void) | undefined;
}

/**
 * commitVersion commits a session's next version by inserting its version
 * document (see VersionDoc: the unique `_id` is the compare-and-set), then
 * brings the head up to it. It throws ABORTED when the version it builds
 * on is no longer current, or when that version applied the commit's turn
 * already (a retry raced the original; the caller replays the result).
 */
export async function commitVersion(reads: SessionReads, commit: Commit, limits: CommitLimits): Promise<void> {
  const { session, expectedVersion } = commit;
  checkKey(session.id);
  checkNextVersion(commit);
  const now = reads.clock.now();
  // The incarnation the turn read its state from: a commit must land in
  // that one, or fail.
  let known: KnownVersion | undefined =
    expectedVersion === 0n
      ? { inc: (await claimHead(reads, session, now)).inc, version: 0, recentTurns: [] }
      : reads.known.get(session.id);
  if (known === undefined || known.version !== Number(expectedVersion)) {
    // Not what this process read: start from the stored version the
    // commit builds on, which must exist.
    const head = await reads.live(session.id);
    if (head === undefined) throw conflict(session.id, expectedVersion, "it expired or was deleted");
    const previous = await guard("reading the session", () =>
      reads.c.versions.findOne(
        { _id: versionId(recordIdPrefix(session.id, head.inc), Number(expectedVersion)) },
        { projection: { recentTurns: 1 } },
      ),
    );
    if (previous === null) throw conflict(session.id, expectedVersion, "its history changed");
    known = { inc: head.inc, version: Number(expectedVersion), recentTurns: previous.recentTurns ?? [] };
  }
  const inc = known.inc;
  if (commit.turn !== undefined && recentTurnOf(known.recentTurns, commit.turn.turnId) !== undefined) {
    // The version this commit builds on already applied the turn: a
    // retry raced the original. The caller replays the stored result.
    throw conflict(session.id, expectedVersion, `turn ${commit.turn.turnId} was applied already`);
  }
  const version = Number(session.version);
  const doc = versionDocOf(commit, inc, now, recentTurnsAfter(known.recentTurns, commit.turn?.turnId, version));
  const size = versionBytesOf(doc);
  if (size > limits.maxDocumentBytes) {
    throw invalidArgument(
      "state",
      `session ${session.id} version ${version} would take ${size} bytes, above the store's limit of ${limits.maxDocumentBytes}; keep less in the session state`,
    );
  }
  await guard("committing the turn", async () => {
    try {
      await reads.c.versions.insertOne(doc);
    } catch (e) {
      if (!isDuplicateKey(e)) throw e;
      // A version the head did not name exists: the next read looks past the head.
      reads.known.remember(session.id, { ...known, headLags: true });
      throw conflict(session.id, expectedVersion, await committedBy(reads, doc));
    }
  });
  await updateHead(reads, inc, session, now, doc, limits);
  reads.known.remember(session.id, { inc, version, recentTurns: doc.recentTurns });
}

/**
 * committedBy says who committed the version a commit found taken. The
 * same turn id means this turn was committed already: an earlier attempt
 * whose acknowledgement was lost (a primary failover, a broken
 * connection), or a retry on another replica that won. Either way the
 * caller's rerun finds it by its turn id and replays the stored result;
 * it is never applied twice.
 */
async function committedBy(reads: SessionReads, doc: VersionDoc): Promise<string> {
  const stored = await reads.c.versions.findOne({ _id: doc._id }, { projection: { turnId: 1 } });
  if (doc.turnId !== undefined && stored?.turnId === doc.turnId) {
    return `turn ${doc.turnId} was applied already, in version ${doc.version}`;
  }
  return `version ${doc.version} was committed by another writer`;
}

/**
 * claimHead returns the head a new session commits its version 1 under:
 * a new one, the live one (where version 1 may exist, which the commit
 * finds out), or a fresh incarnation replacing an expired one.
 */
async function claimHead(reads: SessionReads, session: Session, now: Date): Promise<HeadDoc> {
  const { heads } = reads.c;
  return guard("creating the session", async () => {
    const fresh = newHeadOf(session, now);
    const existing = await heads.findOne({ _id: session.id });
    if (existing === null) {
      try {
        await heads.insertOne(fresh);
        return fresh;
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
        throw conflict(session.id, 0n, "another request created it at the same time");
      }
    }
    if (existing.expiresAt.getTime() > now.getTime()) {
      // A live head: commit in its incarnation. If it has a version 1
      // already (or another request is creating it right now), inserting
      // version 1 fails and says so.
      return existing;
    }
    // An expired session: a new incarnation under the same id; the old
    // one's records go.
    const res = await heads.replaceOne({ _id: session.id, inc: existing.inc }, fresh);
    if (res.matchedCount === 0) throw conflict(session.id, 0n, "another request created it at the same time");
    await deleteRecords(reads.c, session.id, existing.inc);
    return fresh;
  });
}

/**
 * updateHead brings the head up to a committed version. The version is
 * committed already, so a failure here only leaves the head's summary
 * (status, expiry) one turn behind; it is reported, not thrown. A head
 * whose incarnation changed meanwhile means the commit landed in a
 * session that was deleted or replaced under it: that is a conflict.
 */
async function updateHead(reads: SessionReads, inc: string, session: Session, now: Date, doc: VersionDoc, limits: CommitLimits): Promise<void> {
  const version = Number(session.version);
  try {
    const res = await reads.c.heads.updateOne(headFilterOf(session.id, inc, version), headUpdateOf(session, now, doc));
    if (res.matchedCount > 0) return;
    // Not updated: a newer version's update came first (fine), or the head
    // is gone or another incarnation's.
    const head = await reads.c.heads.findOne({ _id: session.id }, { projection: { inc: 1, version: 1 } });
    if (head !== null && head.inc === inc && head.version >= version) return;
  } catch (e) {
    limits.onBackgroundError?.(e, `updating the head of session ${session.id}`);
    return;
  }
  throw conflict(session.id, session.version - 1n, "it was deleted or replaced while the turn ran");
}

/**
 * recordFailedStep stores a failed turn's step in the live session's
 * incarnation, at the version the turn started from (the latest when the
 * step names none); a gone session records nothing.
 */
export async function recordFailedStep(reads: SessionReads, step: Step): Promise<void> {
  const head = await reads.live(step.sessionId);
  if (head === undefined) return;
  const now = reads.clock.now();
  const version = step.version > 0n ? step.version : BigInt((await reads.latest(head))?.version ?? 0);
  const turnId = checkKey(step.turnId || "turn");
  const s = failedStepOf(step, version, now, turnId);
  const recorded = await guard("recording the failed turn", () =>
    reads.c.failures.replaceOne({ _id: recordId(recordIdPrefix(head._id, head.inc), s.id) }, failureDocOf(head, s, now), {
      upsert: true,
    }),
  );
  // Counted once (a record written again is not a new failure) for the
  // outcomes per flow version, whatever version the head is at.
  if (recorded.upsertedCount === 1) await guard("recording the failed turn", () => reads.c.heads.updateOne({ _id: head._id, inc: head.inc }, { $inc: { failedTurns: 1 } }));
  // The head notes the failure's last seq while it is still at that version.
  const seq = stepLastSeq(step);
  if (seq > 0n) {
    await guard("recording the failed turn", () =>
      reads.c.heads.updateOne({ _id: head._id, inc: head.inc, version: Number(version) }, { $max: { failureSeq: Number(seq) } }),
    );
  }
}

/**
 * conflict is the ABORTED error of a commit that lost to another change of
 * the session: the turn can be sent again, from the new version.
 */
function conflict(id: string, expected: bigint, why: string): ConnectError {
  return mark(
    aborted(`session ${id} changed while the turn ran (the turn started from version ${expected}: ${why}); send the turn again`), "store"
  );
}
