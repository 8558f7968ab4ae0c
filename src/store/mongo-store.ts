import { clone, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { Binary, type Collection, type Db, MongoClient, type MongoClientOptions, MongoServerError } from "mongodb";
import {
  type SendTurnResponse,
  SendTurnResponseSchema,
} from "../gen/switchboard/v1/orchestrator_pb.js";
import {
  type Session,
  SessionStatus,
  type Snapshot,
  SnapshotSchema,
  type Step,
  StepSchema,
} from "../gen/switchboard/v1/session_pb.js";
import { aborted, invalidArgument, mark } from "../core/errors.js";
import {
  type Clock,
  type Commit,
  type Loaded,
  type Page,
  type PageRequest,
  type SessionFilter,
  type SessionStore,
  systemClock,
} from "../core/ports.js";
import { databaseOf, guard, isDuplicateKey } from "./mongo-errors.js";
import { committedStepId, failedStepId, pageSize, snapshotOf } from "./records.js";

/**
 * HeadDoc is a session's entry in the `sessions` collection: what listings,
 * filters and expiry need, and the session's incarnation. It is a summary
 * of the latest version, kept up to date after each commit; the versions
 * themselves live in `session_versions`.
 */
interface HeadDoc {
  _id: string;
  /** A new random value each time the id is created: the records of a deleted or expired session never mix with a new one's. */
  inc: string;
  version: number;
  status: string;
  tenant: string;
  accountId: string;
  flowId: string;
  stage: string;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
}

/**
 * VersionDoc is one committed version in `session_versions`: the snapshot
 * of the session after it, the audit-trail steps that made it, and the
 * turn's result for replays. Its `_id` is `${session}/${inc}/${version}`
 * (zero-padded), so committing is inserting it: the server's unique `_id`
 * is the compare-and-set, one writer wins each version and the other gets a
 * duplicate-key error. That holds on every server speaking the MongoDB
 * protocol, FerretDB included (whose conditional updates are not atomic),
 * and needs no multi-document transaction: a version is one document, so a
 * crash can never leave half of one.
 */
interface VersionDoc {
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
  recentTurns: Array<{ id: string; v: number }>;
}

/**
 * turnWindow is how many recent client turn ids a session remembers for
 * replays; a gateway retry comes within seconds, far inside it.
 */
export const turnWindow = 128;

/** Known is what a store remembers of a session's latest version. */
interface Known {
  inc: string;
  version: number;
  recentTurns: VersionDoc["recentTurns"];
}

/** FailureDoc is a failed turn's step, in `session_failures`. */
interface FailureDoc {
  _id: string;
  session: string;
  inc: string;
  createdAt: Date;
  step: Binary;
}

/**
 * MongoStoreOptions configure a MongoStore.
 */
export interface MongoStoreOptions {
  uri: string;
  /** The database; defaults to the one in the URI, else "switchboard". */
  database?: string;
  /** How long to look for a reachable server before an operation fails UNAVAILABLE (default 2000). */
  serverSelectionTimeoutMs?: number;
  /** How often to delete expired sessions (default 60000; 0 disables the sweeper). */
  sweepIntervalMs?: number;
  /** The largest version document, in bytes (default 4 MiB, far below MongoDB's 16 MiB). */
  maxDocumentBytes?: number;
  clock?: Clock;
  /** Called with errors of background work (sweeps, head updates). */
  onBackgroundError?: (err: unknown, what: string) => void;
}

/**
 * keyPattern is the shape of every id the store builds keys from; the server
 * validates ids before they get here, this is the store's own guard.
 */
const keyPattern = /^[A-Za-z0-9._:~-]{1,160}$/;

/**
 * MongoStore is the SessionStore on MongoDB, or any server speaking its wire
 * protocol, such as FerretDB. See VersionDoc for how commits stay atomic
 * without transactions.
 */
export class MongoStore implements SessionStore {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly heads: Collection<HeadDoc>;
  private readonly versions: Collection<VersionDoc>;
  private readonly failures: Collection<FailureDoc>;
  private readonly clock: Clock;
  private readonly maxDocumentBytes: number;
  private sweeper: NodeJS.Timeout | undefined;
  /** What this process last read or wrote of each recent session (bounded). */
  private readonly known = new Map<string, Known>();
  /** Set while the indexes could not be made at start-up; the next sweep makes them. */
  private indexesPending = false;

  private constructor(private readonly opts: MongoStoreOptions) {
    const clientOptions: MongoClientOptions = {
      serverSelectionTimeoutMS: opts.serverSelectionTimeoutMs ?? 2000,
      connectTimeoutMS: opts.serverSelectionTimeoutMs ?? 2000,
      appName: "switchboard",
    };
    this.client = new MongoClient(opts.uri, clientOptions);
    this.db = this.client.db(opts.database || undefined);
    this.heads = this.db.collection<HeadDoc>("sessions");
    this.versions = this.db.collection<VersionDoc>("session_versions");
    this.failures = this.db.collection<FailureDoc>("session_failures");
    this.clock = opts.clock ?? systemClock;
    this.maxDocumentBytes = opts.maxDocumentBytes ?? 4 * 1024 * 1024;
  }

  /**
   * open connects, creates the indexes (idempotently) and starts the
   * sweeper. An unreachable database does not fail it: turns fail with
   * UNAVAILABLE until the database is back, and the indexes are made then.
   */
  static async open(opts: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore({ ...opts, database: opts.database || databaseOf(opts.uri) || "switchboard" });
    try {
      await guard("connecting to the session store", async () => {
        await store.client.connect();
        await store.ensureIndexes();
      });
    } catch (e) {
      if (!(e instanceof ConnectError) || e.code !== Code.Unavailable) throw e;
      opts.onBackgroundError?.(e, "connecting to the session store");
      store.indexesPending = true;
    }
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      store.sweeper = setInterval(() => {
        store.sweep().catch((e: unknown) => opts.onBackgroundError?.(e, "sweeping expired sessions"));
      }, every);
      store.sweeper.unref();
    }
    return store;
  }

  private async ensureIndexes(): Promise<void> {
    await this.heads.createIndex({ status: 1, updatedAt: -1 }, { name: "status_updated" });
    await this.heads.createIndex({ tenant: 1, updatedAt: -1 }, { name: "tenant_updated" });
    try {
      // A backstop for when no orchestrator runs the sweeper: the server
      // deletes heads a day after they expired. Reads treat sessions as
      // gone at expiresAt, and the sweeper deletes them with their records.
      await this.heads.createIndex({ expiresAt: 1 }, { name: "expires_ttl", expireAfterSeconds: 86_400 });
    } catch (e) {
      // Servers without TTL indexes still get one for the sweeper's query.
      if (!(e instanceof MongoServerError)) throw e;
      await this.heads.createIndex({ expiresAt: 1 }, { name: "expires" });
    }
    await this.versions.createIndex({ session: 1 }, { name: "session" });
    await this.failures.createIndex({ session: 1 }, { name: "session" });
  }

  async get(sessionId: string): Promise<Session | undefined> {
    const latest = await this.latestOf(sessionId);
    return latest && fromBinary(SnapshotSchema, latest.snapshot.buffer).session;
  }

  /** latestOf reads the newest version of a live session, and remembers it. */
  private async latestOf(sessionId: string): Promise<VersionDoc | undefined> {
    const [head, latest] = await this.readLatest(sessionId);
    if (head === undefined || latest === undefined) {
      this.known.delete(sessionId);
      return undefined;
    }
    this.remember(sessionId, { inc: head.inc, version: latest.version, recentTurns: latest.recentTurns });
    return latest;
  }

  /**
   * readLatest reads a live session's head and newest version. When this
   * process knows the session's latest version (it served the last turn,
   * the usual case), that version and the next are read beside the head,
   * in one round trip instead of two; the head then confirms the guess, and
   * a wrong guess falls back to reading from the head.
   */
  private async readLatest(sessionId: string): Promise<[HeadDoc | undefined, VersionDoc | undefined]> {
    const known = this.known.get(sessionId);
    if (known === undefined || known.version < 1) {
      const head = await this.live(sessionId);
      return [head, head && (await this.latest(head))];
    }
    const prefix = `${sessionId}/${known.inc}/`;
    const [head, found, next] = await Promise.all([
      this.live(sessionId),
      guard("reading the session", () => this.versions.findOne({ _id: prefix + versionKey(known.version) })),
      guard("reading the session", () => this.versions.findOne({ _id: prefix + versionKey(known.version + 1) })),
    ]);
    if (head === undefined) return [undefined, undefined];
    // The head names the latest version or lags one commit behind it; the
    // guess stands when the head is within what was read.
    const confirmed =
      head.inc === known.inc &&
      found !== null &&
      (head.version === known.version || (head.version === known.version + 1 && next !== null));
    if (!confirmed) return [head, await this.latest(head)];
    return [head, await this.follow(prefix, known.version, found, next)];
  }

  /**
   * latest reads the newest version of a session's incarnation. The head
   * says which version that is, but may lag a commit behind (its update
   * follows the commit), so the next version ids are probed too. Only
   * exact `_id` lookups: they stay fast on every server.
   */
  private async latest(head: HeadDoc): Promise<VersionDoc | undefined> {
    const prefix = `${head._id}/${head.inc}/`;
    const v = head.version;
    const [found, next] = await guard("reading the session", () =>
      Promise.all([
        v > 0 ? this.versions.findOne({ _id: prefix + versionKey(v) }) : Promise.resolve(null),
        this.versions.findOne({ _id: prefix + versionKey(v + 1) }),
      ]),
    );
    return this.follow(prefix, v, found, next);
  }

  /** follow probes the versions after `next` until one is missing, and returns the last found. */
  private async follow(prefix: string, from: number, first: VersionDoc | null, second: VersionDoc | null): Promise<VersionDoc | undefined> {
    return guard("reading the session", async () => {
      let v = from;
      let found = first;
      let next = second;
      while (next !== null) {
        found = next;
        v++;
        next = await this.versions.findOne({ _id: prefix + versionKey(v + 1) });
      }
      return found ?? undefined;
    });
  }

  async commit(commit: Commit): Promise<void> {
    const { session, expectedVersion } = commit;
    key(session.id);
    if (session.version !== expectedVersion + 1n) {
      throw new Error(`commit of version ${session.version} from ${expectedVersion}: versions must grow by one`);
    }
    const now = this.clock.now();
    // The incarnation the turn read its state from: a commit must land in
    // that one, or fail.
    let known: Known | undefined =
      expectedVersion === 0n
        ? { inc: (await this.claimHead(session, now)).inc, version: 0, recentTurns: [] }
        : this.known.get(session.id);
    if (known === undefined || known.version !== Number(expectedVersion)) {
      // Not what this process read: start from the stored version the
      // commit builds on, which must exist.
      const head = await this.live(session.id);
      if (head === undefined) throw conflict(session.id, expectedVersion, "it expired or was deleted");
      const previous = await guard("reading the session", () =>
        this.versions.findOne({ _id: `${session.id}/${head.inc}/${versionKey(Number(expectedVersion))}` }, { projection: { recentTurns: 1 } }),
      );
      if (previous === null) throw conflict(session.id, expectedVersion, "its history changed");
      known = { inc: head.inc, version: Number(expectedVersion), recentTurns: previous.recentTurns ?? [] };
    }
    const inc = known.inc;
    if (commit.turn !== undefined && known.recentTurns.some((t) => t.id === commit.turn?.turnId)) {
      // The version this commit builds on already applied the turn: a
      // retry raced the original. The caller replays the stored result.
      throw conflict(session.id, expectedVersion, `turn ${commit.turn.turnId} was applied already`);
    }
    const version = Number(session.version);
    const doc: VersionDoc = {
      _id: `${session.id}/${inc}/${versionKey(version)}`,
      session: session.id,
      inc,
      version,
      reason: commit.reason,
      createdAt: now,
      snapshot: new Binary(toBinary(SnapshotSchema, snapshotOf(session, commit.reason, now))),
      steps: commit.steps.map((step, i) => {
        const s = clone(StepSchema, step);
        s.id = committedStepId(session.version, i);
        s.version = session.version;
        return new Binary(toBinary(StepSchema, s));
      }),
      recentTurns: commit.turn ? [...known.recentTurns, { id: commit.turn.turnId, v: version }].slice(-turnWindow) : known.recentTurns,
      ...(commit.turn
        ? {
            turnId: key(commit.turn.turnId),
            result: new Binary(toBinary(SendTurnResponseSchema, { ...commit.turn.result, session: undefined })),
          }
        : {}),
    };
    const size = doc.snapshot.length() + doc.steps.reduce((n, s) => n + s.length(), 0) + (doc.result?.length() ?? 0);
    if (size > this.maxDocumentBytes) {
      throw invalidArgument(
        "state",
        `session ${session.id} version ${version} would take ${size} bytes, above the store's limit of ${this.maxDocumentBytes}; keep less in the session state`,
      );
    }
    await guard("committing the turn", async () => {
      try {
        await this.versions.insertOne(doc);
      } catch (e) {
        if (isDuplicateKey(e)) throw conflict(session.id, expectedVersion, `version ${version} was committed by another writer`);
        throw e;
      }
    });
    await this.updateHead(inc, session, now);
    this.remember(session.id, { inc, version, recentTurns: doc.recentTurns });
  }

  /** remember notes what this process read or wrote of a session (bounded, oldest out). */
  private remember(sessionId: string, known: Known): void {
    this.known.delete(sessionId);
    this.known.set(sessionId, known);
    if (this.known.size > 10_000) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }

  /**
   * claimHead returns the head a new session commits its version 1 under:
   * a new one, the live one (where version 1 may exist, which the commit
   * finds out), or a fresh incarnation replacing an expired one.
   */
  private async claimHead(session: Session, now: Date): Promise<HeadDoc> {
    return guard("creating the session", async () => {
      const fresh: HeadDoc = {
        _id: session.id,
        inc: newIncarnation(),
        version: 0,
        status: SessionStatus[session.status] ?? "UNSPECIFIED",
        tenant: session.tenant,
        accountId: session.accountId,
        flowId: session.flowId,
        stage: session.stage,
        createdAt: now,
        updatedAt: now,
        expiresAt: expiryOf(session, now),
      };
      const existing = await this.heads.findOne({ _id: session.id });
      if (existing === null) {
        try {
          await this.heads.insertOne(fresh);
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
      const res = await this.heads.replaceOne({ _id: session.id, inc: existing.inc }, fresh);
      if (res.matchedCount === 0) throw conflict(session.id, 0n, "another request created it at the same time");
      await Promise.all([
        this.versions.deleteMany({ session: session.id, inc: existing.inc }),
        this.failures.deleteMany({ session: session.id, inc: existing.inc }),
      ]);
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
  private async updateHead(inc: string, session: Session, now: Date): Promise<void> {
    const version = Number(session.version);
    let matched: number;
    try {
      const res = await this.heads.updateOne(
        { _id: session.id, inc },
        {
          $max: { version },
          $set: {
            status: SessionStatus[session.status] ?? "UNSPECIFIED",
            stage: session.stage,
            updatedAt: now,
            expiresAt: expiryOf(session, now),
          },
        },
      );
      matched = res.matchedCount;
    } catch (e) {
      this.opts.onBackgroundError?.(e, `updating the head of session ${session.id}`);
      return;
    }
    if (matched === 0) throw conflict(session.id, session.version - 1n, "it was deleted or replaced while the turn ran");
  }

  async load(sessionId: string, turnId: string): Promise<Loaded> {
    if (turnId !== "") key(turnId);
    const latest = await this.latestOf(sessionId);
    if (latest === undefined) return {};
    const session = fromBinary(SnapshotSchema, latest.snapshot.buffer).session;
    if (session === undefined) return {};
    const replay = turnId === "" ? undefined : await this.replayOf(sessionId, latest, turnId);
    return replay === undefined ? { session } : { session, replay };
  }

  async turnResult(sessionId: string, turnId: string): Promise<SendTurnResponse | undefined> {
    key(turnId);
    const latest = await this.latestOf(sessionId);
    return latest && this.replayOf(sessionId, latest, turnId);
  }

  /** replayOf returns the stored result of a turn the session's latest version remembers. */
  private async replayOf(sessionId: string, latest: VersionDoc, turnId: string): Promise<SendTurnResponse | undefined> {
    const seen = latest.recentTurns.find((t) => t.id === turnId);
    if (seen === undefined) return undefined;
    const doc =
      seen.v === latest.version
        ? latest
        : await guard("reading the turn", () =>
            this.versions.findOne({ _id: `${sessionId}/${latest.inc}/${versionKey(seen.v)}` }),
          );
    if (doc === null || doc.result === undefined) return undefined;
    const result = fromBinary(SendTurnResponseSchema, doc.result.buffer);
    const snapshot = fromBinary(SnapshotSchema, doc.snapshot.buffer);
    if (snapshot.session !== undefined) result.session = snapshot.session;
    return result;
  }

  async recordFailure(step: Step): Promise<void> {
    const head = await this.live(step.sessionId);
    if (head === undefined) return;
    const latest = await this.latest(head);
    const now = this.clock.now();
    const id = failedStepId(BigInt(latest?.version ?? 0), now, key(step.turnId || "turn"));
    const s = clone(StepSchema, step);
    s.id = id;
    s.version = 0n;
    await guard("recording the failed turn", () =>
      this.failures.replaceOne(
        { _id: `${head._id}/${head.inc}/${id}` },
        { session: head._id, inc: head.inc, createdAt: now, step: new Binary(toBinary(StepSchema, s)) },
        { upsert: true },
      ),
    );
  }

  async listSteps(sessionId: string, page: PageRequest): Promise<Page<Step>> {
    const head = await this.live(sessionId);
    if (head === undefined) return { items: [], nextPageToken: "" };
    const size = pageSize(page.pageSize, 100, 1000);
    const prefix = `${sessionId}/${head.inc}/`;
    const token = page.pageToken === "" ? "" : key(page.pageToken);
    // Step ids start with their zero-padded version, so the version of the
    // token's step is where the next page starts.
    const fromVersion = token === "" ? prefix : prefix + token.slice(0, 20);
    const [versions, failures] = await guard("listing steps", () =>
      Promise.all([
        this.versions
          .find({ _id: { $gte: fromVersion, $lt: `${prefix}\uffff` } }, { projection: { steps: 1 } })
          .sort({ _id: 1 })
          .limit(size + 1)
          .toArray(),
        this.failures
          .find({ _id: { $gt: prefix + token, $lt: `${prefix}\uffff` } })
          .sort({ _id: 1 })
          .limit(size + 1)
          .toArray(),
      ]),
    );
    const steps = [
      ...versions.flatMap((v) => v.steps.map((b) => fromBinary(StepSchema, b.buffer))),
      ...failures.map((f) => fromBinary(StepSchema, f.step.buffer)),
    ]
      .filter((s) => s.id > token)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    // Only steps below the first version not read are complete.
    const cut = versions.length > size ? (versions[size]?._id.slice(prefix.length) ?? "") : "\uffff";
    const complete = steps.filter((s) => s.id < cut);
    const items = complete.slice(0, size);
    const more = complete.length > size || cut !== "\uffff" || failures.length > size;
    const last = items[items.length - 1];
    return { items, nextPageToken: more && last !== undefined ? last.id : "" };
  }

  async listSnapshots(sessionId: string, page: PageRequest): Promise<Page<Snapshot>> {
    const head = await this.live(sessionId);
    if (head === undefined) return { items: [], nextPageToken: "" };
    const size = pageSize(page.pageSize, 100, 1000);
    const prefix = `${sessionId}/${head.inc}/`;
    const after = page.pageToken === "" ? prefix : prefix + key(page.pageToken);
    const docs = await guard("listing snapshots", () =>
      this.versions
        .find({ _id: { $gt: after, $lt: `${prefix}\uffff` } }, { projection: { snapshot: 1 } })
        .sort({ _id: 1 })
        .limit(size + 1)
        .toArray(),
    );
    const items = docs.slice(0, size).map((d) => fromBinary(SnapshotSchema, d.snapshot.buffer));
    const last = docs[size - 1];
    return { items, nextPageToken: docs.length > size && last !== undefined ? last._id.slice(prefix.length) : "" };
  }

  async snapshot(sessionId: string, version: bigint): Promise<Snapshot | undefined> {
    const head = await this.live(sessionId);
    if (head === undefined || version < 1n) return undefined;
    const doc = await guard("reading the snapshot", () =>
      this.versions.findOne({ _id: `${sessionId}/${head.inc}/${versionKey(Number(version))}` }, { projection: { snapshot: 1 } }),
    );
    return doc === null ? undefined : fromBinary(SnapshotSchema, doc.snapshot.buffer);
  }

  async list(filter: SessionFilter, page: PageRequest): Promise<Page<Session>> {
    const size = pageSize(page.pageSize, 50, 500);
    const now = this.clock.now();
    const query: Record<string, unknown> = { expiresAt: { $gt: now }, version: { $gt: 0 } };
    if (filter.status !== undefined) query["status"] = SessionStatus[filter.status];
    if (filter.tenant !== undefined) query["tenant"] = filter.tenant;
    if (page.pageToken !== "") {
      const [ms, id] = splitToken(page.pageToken);
      const at = new Date(ms);
      query["$or"] = [{ updatedAt: { $lt: at } }, { updatedAt: at, _id: { $lt: id } }];
    }
    const heads = await guard("listing sessions", () =>
      this.heads.find(query).sort({ updatedAt: -1, _id: -1 }).limit(size + 1).toArray(),
    );
    const page1 = heads.slice(0, size);
    const sessions = await Promise.all(page1.map((h) => this.latest(h)));
    const items = sessions
      .map((v) => v && fromBinary(SnapshotSchema, v.snapshot.buffer).session)
      .filter((s): s is Session => s !== undefined);
    const last = page1[page1.length - 1];
    return {
      items,
      nextPageToken: heads.length > size && last !== undefined ? `${last.updatedAt.getTime()}/${last._id}` : "",
    };
  }

  async delete(sessionId: string): Promise<boolean> {
    key(sessionId);
    return guard("deleting the session", async () => {
      const head = await this.live(sessionId);
      const res = await this.heads.deleteOne({ _id: sessionId });
      // Records go after the head: should this stop half-way, they belong
      // to an incarnation no head has any more, and no reader sees them.
      await this.deleteRecords(sessionId);
      return head !== undefined && res.deletedCount === 1;
    });
  }

  private async deleteRecords(sessionId: string): Promise<void> {
    await Promise.all([this.versions.deleteMany({ session: sessionId }), this.failures.deleteMany({ session: sessionId })]);
  }

  /**
   * sweep deletes sessions that expired, with their records, a batch at a time.
   */
  async sweep(): Promise<number> {
    if (this.indexesPending) {
      await guard("creating indexes", () => this.ensureIndexes());
      this.indexesPending = false;
    }
    const now = this.clock.now();
    const expired = await guard("finding expired sessions", () =>
      this.heads.find({ expiresAt: { $lte: now } }, { projection: { _id: 1, inc: 1 } }).limit(500).toArray(),
    );
    let removed = 0;
    for (const { _id, inc } of expired) {
      // Only that incarnation, and only if still expired.
      const res = await this.heads.deleteOne({ _id, inc, expiresAt: { $lte: now } });
      if (res.deletedCount === 1) {
        removed++;
        await this.deleteRecords(_id);
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.client.close();
  }

  /** databaseName is the database the store uses. */
  get databaseName(): string {
    return this.db.databaseName;
  }

  /**
   * ping checks that the database answers.
   */
  async ping(): Promise<void> {
    await guard("pinging the session store", () => this.db.command({ ping: 1 }));
  }

  /** live reads the head of a session that exists and has not expired. */
  private async live(sessionId: string): Promise<HeadDoc | undefined> {
    key(sessionId);
    const head = await guard("reading the session", () => this.heads.findOne({ _id: sessionId }));
    if (head === null || head.expiresAt.getTime() <= this.clock.now().getTime()) return undefined;
    return head;
  }
}

function expiryOf(session: Session, now: Date): Date {
  return session.expireTime ? timestampDate(session.expireTime) : new Date(now.getTime() + 3_600_000);
}

function versionKey(v: number): string {
  return v.toString().padStart(20, "0");
}

function splitToken(token: string): [number, string] {
  const slash = token.indexOf("/");
  const ms = Number(token.slice(0, slash));
  if (slash <= 0 || !Number.isFinite(ms)) throw invalidArgument("page_token", "not a token this server issued");
  return [ms, token.slice(slash + 1)];
}

function key(value: string): string {
  if (!keyPattern.test(value)) throw invalidArgument("id", `${JSON.stringify(value.slice(0, 40))} cannot be used as a key`);
  return value;
}

function newIncarnation(): string {
  return randomBytes(6).toString("base64url");
}


function conflict(id: string, expected: bigint, why: string): ConnectError {
  return mark(
    aborted(`session ${id} changed while the turn ran (the turn started from version ${expected}: ${why}); send the turn again`),
    "store",
  );
}
