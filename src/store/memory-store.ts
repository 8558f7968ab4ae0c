import { timestampMs } from "@bufbuild/protobuf/wkt";
import { copyMessage } from "../core/copy-message.js";
import { type SendTurnResponse, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionSchema, type Snapshot, SnapshotSchema, type Step, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import { aborted } from "../core/errors.js";
import { stepLastSeq } from "../core/session-events.js";
import { type Clock, type Commit, type Loaded, type Page, type PageRequest, type SessionFilter, type SessionStore, systemClock } from "../core/ports.js";
import type { FlowStatsSource, OutcomeQuery, VersionCounts } from "../core/flow-stats.js";
import { countOutcomes } from "./memory-flow-stats.js";
import {
  checkNextVersion,
  committedStepOf,
  cutPage,
  emptyPage,
  failedStepIdRange,
  failedStepOf,
  pageSize,
  snapshotOf,
  versionKey,
} from "./records.js";

interface Entry {
  session: Session;
  snapshots: Snapshot[];
  steps: Step[];
  turns: Map<string, SendTurnResponse>;
  /** Turns that failed and committed nothing, for the outcomes per flow version. */
  failedTurns: number;
}

/**
 * MemoryStore is the embedded SessionStore: everything lives in the process
 * and is lost when it exits. It keeps the same contract as the MongoDB
 * store (compare-and-set, idempotent turns, expiry), so the engine behaves
 * the same on both.
 */
export class MemoryStore implements SessionStore, FlowStatsSource {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock = systemClock) {}

  async get(sessionId: string): Promise<Session | undefined> {
    const entry = this.live(sessionId);
    return entry && copyMessage(SessionSchema, entry.session);
  }

  async commit(commit: Commit): Promise<void> {
    const { session, expectedVersion } = commit;
    const entry = this.live(session.id);
    const current = entry?.session.version ?? 0n;
    if (current !== expectedVersion) {
      throw aborted(
        `session ${session.id} changed while the turn ran (now at version ${current}, the turn started from ${expectedVersion}); send the turn again`,
      );
    }
    if (commit.turn !== undefined && entry?.turns.has(commit.turn.turnId)) {
      throw aborted(`session ${session.id}: turn ${commit.turn.turnId} was applied already; send the turn again to get its result`);
    }
    checkNextVersion(commit);
    const now = this.clock.now();
    // One private copy of the session serves as the head, the snapshot and
    // the stored result's session: the store never changes what it holds,
    // and every read hands out a copy of its own.
    const stored = copyMessage(SessionSchema, session);
    const target: Entry = entry ?? { session: stored, snapshots: [], steps: [], turns: new Map(), failedTurns: 0 };
    target.session = stored;
    target.snapshots.push(snapshotOf(stored, commit.reason, now, false));
    commit.steps.forEach((step, i) => target.steps.push(committedStepOf(step, session.version, i)));
    if (commit.turn) target.turns.set(commit.turn.turnId, storedResult(commit.turn.result, session, stored));
    this.entries.set(session.id, target);
  }

  async load(sessionId: string, turnId: string): Promise<Loaded> {
    const session = await this.get(sessionId);
    if (session === undefined) return {};
    const replay = turnId === "" ? undefined : await this.turnResult(sessionId, turnId);
    return replay === undefined ? { session } : { session, replay };
  }

  async turnResult(sessionId: string, turnId: string): Promise<SendTurnResponse | undefined> {
    const result = this.live(sessionId)?.turns.get(turnId);
    return result && copyMessage(SendTurnResponseSchema, result);
  }

  async recordFailure(step: Step): Promise<void> {
    const entry = this.live(step.sessionId);
    if (entry === undefined) return;
    const version = step.version > 0n ? step.version : entry.session.version;
    entry.steps.push(failedStepOf(step, version, this.clock.now(), step.turnId));
    entry.failedTurns += 1;
  }

  async failureEnd(sessionId: string, version: bigint): Promise<bigint> {
    const { from, to } = failedStepIdRange(version);
    let end = 0n;
    for (const step of this.live(sessionId)?.steps ?? []) {
      if (step.id < from || step.id >= to) continue;
      const last = stepLastSeq(step);
      if (last > end) end = last;
    }
    return end;
  }

  async listSteps(sessionId: string, page: PageRequest): Promise<Page<Step>> {
    const entry = this.live(sessionId);
    if (entry === undefined) return emptyPage();
    return pageOf(
      [...entry.steps].sort((a, b) => (a.id < b.id ? -1 : 1)),
      (s) => s.id,
      page,
      (s) => copyMessage(StepSchema, s),
    );
  }

  async listSnapshots(sessionId: string, page: PageRequest): Promise<Page<Snapshot>> {
    const entry = this.live(sessionId);
    if (entry === undefined) return emptyPage();
    return pageOf(
      entry.snapshots,
      (s) => versionKey(s.version),
      page,
      (s) => copyMessage(SnapshotSchema, s),
    );
  }

  async snapshot(sessionId: string, version: bigint): Promise<Snapshot | undefined> {
    const found = this.live(sessionId)?.snapshots.find((s) => s.version === version);
    return found && copyMessage(SnapshotSchema, found);
  }

  async list(filter: SessionFilter, page: PageRequest): Promise<Page<Session>> {
    const sessions = [...this.entries.keys()]
      .map((id) => this.live(id)?.session)
      .filter((s): s is Session => s !== undefined)
      .filter((s) => filter.status === undefined || s.status === filter.status)
      .filter((s) => filter.tenant === undefined || s.tenant === filter.tenant)
      .filter((s) => filter.flowId === undefined || s.flowId === filter.flowId)
      .filter((s) => filter.flowVersion === undefined || s.flowVersion === filter.flowVersion)
      .filter((s) => filter.agent === undefined || (s.tally?.agents ?? []).includes(filter.agent))
      .sort((a, b) => listKey(b).localeCompare(listKey(a)));
    return pageOf(sessions, listKey, page, (s) => copyMessage(SessionSchema, s), true);
  }

  async delete(sessionId: string): Promise<boolean> {
    const existed = this.live(sessionId) !== undefined;
    this.entries.delete(sessionId);
    return existed;
  }

  async flowStats(query: OutcomeQuery): Promise<VersionCounts[]> {
    return countOutcomes(this.entries.values(), query);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** live returns the entry of a session that exists and has not expired, dropping expired ones. */
  private live(sessionId: string): Entry | undefined {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return undefined;
    const expires = entry.session.expireTime;
    if (expires !== undefined && timestampMs(expires) <= this.clock.now().getTime()) {
      this.entries.delete(sessionId);
      return undefined;
    }
    return entry;
  }
}

/**
 * storedResult copies a turn's result for keeping; when its session is the
 * committed one (the same object), the stored copy of that is shared.
 */
function storedResult(result: SendTurnResponse, committed: Session, stored: Session): SendTurnResponse {
  if (result.session !== committed) return copyMessage(SendTurnResponseSchema, result);
  const copy = copyMessage(SendTurnResponseSchema, { ...result, session: undefined });
  copy.session = stored;
  return copy;
}

function listKey(s: Session): string {
  const t = s.updateTime ? timestampMs(s.updateTime) : 0;
  return `${t.toString().padStart(15, "0")}/${s.id}`;
}

/**
 * pageOf cuts one page out of a sorted list by an opaque key token.
 */
function pageOf<T>(
  sorted: T[],
  key: (t: T) => string,
  page: PageRequest,
  copy: (t: T) => T,
  descending = false,
): Page<T> {
  const size = pageSize(page.pageSize, 100, 1000);
  const after = page.pageToken;
  const rest =
    after === ""
      ? sorted
      : sorted.filter((t) => (descending ? key(t) < after : key(t) > after));
  const cut = cutPage(rest, size, key);
  return { items: cut.items.map(copy), nextPageToken: cut.nextPageToken };
}
