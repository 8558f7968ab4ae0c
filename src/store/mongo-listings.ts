import { type Session, SessionStatus, type Snapshot, type Step } from "../gen/switchboard/v1/session_pb.js";
import { invalidArgument } from "../core/errors.js";
import type { Page, PageRequest, SessionFilter } from "../core/ports.js";
import { guard } from "./mongo-errors.js";
import type { SessionReads } from "./mongo-reads.js";
import { type HeadDoc, headVersionOf, sessionOfVersion, snapshotOfVersion, stepOfFailure, stepsOfVersion } from "./mongo-session-docs.js";
import { checkKey, recordId, recordIdPrefix, recordIdsEnd, recordKeyOf, versionId } from "./mongo-version-id.js";
import { cutPage, emptyPage, failedStepIdRange, pageSize, versionKeyOfStep } from "./records.js";
import { stepLastSeq } from "../core/session-events.js";

/*
 * What the session APIs page through: a session's steps and snapshots, and
 * the sessions themselves. None of it is on a turn's path. Page tokens are
 * record keys (see mongo-version-id.ts), so a page starts with an `_id`
 * range read.
 */

/** noCut stands for "every step read is complete": it sorts after every step id. */
const noCut = "\uffff";

/**
 * listSteps pages a session's audit trail: the steps of its versions and
 * of its failed turns, merged in id order. A page token is the last step
 * id handed out.
 */
export async function listSteps(reads: SessionReads, sessionId: string, page: PageRequest): Promise<Page<Step>> {
  const head = await reads.live(sessionId);
  if (head === undefined) return emptyPage();
  const size = pageSize(page.pageSize, 100, 1000);
  const prefix = recordIdPrefix(sessionId, head.inc);
  const token = page.pageToken === "" ? "" : checkKey(page.pageToken);
  // Step ids start with their zero-padded version, so the version of the
  // token's step is where the next page starts.
  const fromVersion = recordId(prefix, versionKeyOfStep(token));
  const end = recordIdsEnd(prefix);
  const [versions, failures] = await guard("listing steps", () =>
    Promise.all([
      reads.c.versions
        .find({ _id: { $gte: fromVersion, $lt: end } }, { projection: { steps: 1 } })
        .sort({ _id: 1 })
        .limit(size + 1)
        .toArray(),
      reads.c.failures
        .find({ _id: { $gt: recordId(prefix, token), $lt: end } })
        .sort({ _id: 1 })
        .limit(size + 1)
        .toArray(),
    ]),
  );
  const steps = [...versions.flatMap(stepsOfVersion), ...failures.map(stepOfFailure)]
    .filter((s) => s.id > token)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  // Only steps below the first version not read are complete.
  const notRead = versions[size];
  const cut = versions.length > size ? (notRead === undefined ? "" : recordKeyOf(prefix, notRead._id)) : noCut;
  const complete = steps.filter((s) => s.id < cut);
  const items = complete.slice(0, size);
  const more = complete.length > size || cut !== noCut || failures.length > size;
  const last = items[items.length - 1];
  return { items, nextPageToken: more && last !== undefined ? last.id : "" };
}

/**
 * listSnapshots pages a session's committed versions, oldest first. A page
 * token is the last version's key.
 */
export async function listSnapshots(reads: SessionReads, sessionId: string, page: PageRequest): Promise<Page<Snapshot>> {
  const head = await reads.live(sessionId);
  if (head === undefined) return emptyPage();
  const size = pageSize(page.pageSize, 100, 1000);
  const prefix = recordIdPrefix(sessionId, head.inc);
  const after = recordId(prefix, page.pageToken === "" ? "" : checkKey(page.pageToken));
  const docs = await guard("listing snapshots", () =>
    reads.c.versions
      .find({ _id: { $gt: after, $lt: recordIdsEnd(prefix) } }, { projection: { snapshot: 1 } })
      .sort({ _id: 1 })
      .limit(size + 1)
      .toArray(),
  );
  const cut = cutPage(docs, size, (d) => recordKeyOf(prefix, d._id));
  return { items: cut.items.map(snapshotOfVersion), nextPageToken: cut.nextPageToken };
}

/** snapshotAt reads one committed version of a live session. */
export async function snapshotAt(reads: SessionReads, sessionId: string, version: bigint): Promise<Snapshot | undefined> {
  const head = await reads.live(sessionId);
  if (head === undefined || version < 1n) return undefined;
  const doc = await guard("reading the snapshot", () =>
    reads.c.versions.findOne(
      { _id: versionId(recordIdPrefix(sessionId, head.inc), Number(version)) },
      { projection: { snapshot: 1 } },
    ),
  );
  return doc === null ? undefined : snapshotOfVersion(doc);
}

/**
 * listSessions pages live sessions with a committed version, most recently
 * updated first. A page token is the last head's update time and id.
 */
export async function listSessions(reads: SessionReads, filter: SessionFilter, page: PageRequest): Promise<Page<Session>> {
  const size = pageSize(page.pageSize, 50, 500);
  const now = reads.clock.now();
  const query: Record<string, unknown> = { expiresAt: { $gt: now }, version: { $gt: 0 } };
  if (filter.status !== undefined) query["status"] = SessionStatus[filter.status];
  if (filter.tenant !== undefined) query["tenant"] = filter.tenant;
  if (filter.flowId !== undefined) query["flowId"] = filter.flowId;
  if (filter.flowVersion !== undefined) query["flowVersion"] = filter.flowVersion;
  // `agents` is an array: equality matches any element.
  if (filter.agent !== undefined) query["agents"] = filter.agent;
  if (page.pageToken !== "") {
    const [ms, id] = splitListToken(page.pageToken);
    const at = new Date(ms);
    query["$or"] = [{ updatedAt: { $lt: at } }, { updatedAt: at, _id: { $lt: id } }];
  }
  const heads = await guard("listing sessions", () =>
    reads.c.heads.find(query).sort({ updatedAt: -1, _id: -1 }).limit(size + 1).toArray(),
  );
  const cut = cutPage(heads, size, listTokenOf);
  // A listing shows each session as its head carries it (heads written
  // before they carried their version are read from the version).
  const sessions = await Promise.all(cut.items.map((h) => headVersionOf(h) ?? reads.latest(h)));
  const items = sessions.map((v) => v && sessionOfVersion(v)).filter((s): s is Session => s !== undefined);
  return { items, nextPageToken: cut.nextPageToken };
}

/** listTokenOf is the page token after a head: its update time in ms and its id. */
function listTokenOf(head: HeadDoc): string {
  return `${head.updatedAt.getTime()}/${head._id}`;
}

/** splitListToken takes a listTokenOf token apart, or throws INVALID_ARGUMENT. */
function splitListToken(token: string): [number, string] {
  const slash = token.indexOf("/");
  const ms = Number(token.slice(0, slash));
  if (slash <= 0 || !Number.isFinite(ms)) throw invalidArgument("page_token", "not a token this server issued");
  return [ms, token.slice(slash + 1)];
}

/**
 * failureEnd is the highest seq of the failed turns recorded at `version`
 * of a live session (0 for none): as the head notes it when it is at that
 * version, else one range read over their ids.
 */
export async function failureEnd(reads: SessionReads, sessionId: string, version: bigint): Promise<bigint> {
  const head = await reads.live(sessionId);
  if (head === undefined) return 0n;
  if (head.version === Number(version) && head.failureSeq !== undefined) return BigInt(head.failureSeq);
  const prefix = recordIdPrefix(sessionId, head.inc);
  const { from, to } = failedStepIdRange(version);
  const docs = await guard("reading the session's failed turns", () =>
    reads.c.failures.find({ _id: { $gte: recordId(prefix, from), $lt: recordId(prefix, to) } }).toArray(),
  );
  let end = 0n;
  for (const doc of docs) {
    const last = stepLastSeq(stepOfFailure(doc));
    if (last > end) end = last;
  }
  return end;
}
