import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Session, Snapshot, Step } from "../gen/switchboard/v1/session_pb.js";
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
import type { CommandStartedEvent, Db, MongoClient } from "mongodb";
import type { FlowStatsSource, OutcomeQuery, VersionCounts } from "../core/flow-stats.js";
import { databaseNameOf, mongoClientOf } from "./mongo-client.js";
import { flowStatsOf } from "./mongo-flow-stats.js";
import { type CommitLimits, commitVersion, recordFailedStep } from "./mongo-commit.js";
import { guard } from "./mongo-errors.js";
import { deleteRecords, startSweeper, sweepExpired } from "./mongo-expiry.js";
import { failureEnd, listSessions, listSnapshots, listSteps, snapshotAt } from "./mongo-listings.js";
import { SessionReads } from "./mongo-reads.js";
import { sessionCollectionsOf, sessionOfVersion } from "./mongo-session-docs.js";
import { connectSessionStore, createSessionIndexes } from "./mongo-session-setup.js";
import { checkKey } from "./mongo-version-id.js";

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
  /** Called with every command sent to the database (the driver's command monitoring), e.g. to see the concerns and filters it carries. */
  onCommand?: (event: CommandStartedEvent) => void;
}

/**
 * MongoStore is the SessionStore on MongoDB, or any server speaking its wire
 * protocol, such as FerretDB. See VersionDoc (mongo-session-docs.ts) for how
 * commits stay atomic without transactions. It holds the connection and
 * the sweeper; the reads, the commit, the listings and expiry are in the
 * mongo-*.ts files beside it.
 */
export class MongoStore implements SessionStore, FlowStatsSource {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly reads: SessionReads;
  private readonly limits: CommitLimits;
  private sweeper: NodeJS.Timeout | undefined;
  /** Set while the indexes could not be made at start-up; the next sweep makes them. */
  private indexesPending = false;

  private constructor(opts: MongoStoreOptions & { database: string }) {
    this.client = mongoClientOf(opts.uri, opts.serverSelectionTimeoutMs, "switchboard", opts.onCommand);
    this.db = this.client.db(opts.database);
    this.reads = new SessionReads(sessionCollectionsOf(this.db), opts.clock ?? systemClock);
    this.limits = {
      maxDocumentBytes: opts.maxDocumentBytes ?? 4 * 1024 * 1024,
      onBackgroundError: opts.onBackgroundError,
    };
  }

  /**
   * open connects, creates the indexes (idempotently) and starts the
   * sweeper. An unreachable database does not fail it: turns fail with
   * UNAVAILABLE until the database is back, and the indexes are made then.
   */
  static async open(opts: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore({ ...opts, database: databaseNameOf(opts.uri, opts.database) });
    store.indexesPending = !(await connectSessionStore(store.client, store.reads.c, opts.onBackgroundError));
    store.sweeper = startSweeper(
      opts.sweepIntervalMs ?? 60_000,
      () => store.sweep(),
      (e) => opts.onBackgroundError?.(e, "sweeping expired sessions"),
    );
    return store;
  }

  async get(sessionId: string): Promise<Session | undefined> {
    const latest = await this.reads.latestOf(sessionId);
    return latest && sessionOfVersion(latest);
  }

  async commit(commit: Commit): Promise<void> {
    await commitVersion(this.reads, commit, this.limits);
  }

  async load(sessionId: string, turnId: string): Promise<Loaded> {
    if (turnId !== "") checkKey(turnId);
    const latest = await this.reads.latestOf(sessionId);
    if (latest === undefined) return {};
    const session = sessionOfVersion(latest);
    if (session === undefined) return {};
    const replay = turnId === "" ? undefined : await this.reads.replayOf(sessionId, latest, turnId);
    return replay === undefined ? { session } : { session, replay };
  }

  async turnResult(sessionId: string, turnId: string): Promise<SendTurnResponse | undefined> {
    checkKey(turnId);
    const latest = await this.reads.latestOf(sessionId);
    return latest && this.reads.replayOf(sessionId, latest, turnId);
  }

  async recordFailure(step: Step): Promise<void> {
    await recordFailedStep(this.reads, step);
  }

  async failureEnd(sessionId: string, version: bigint): Promise<bigint> {
    return failureEnd(this.reads, sessionId, version);
  }

  async listSteps(sessionId: string, page: PageRequest): Promise<Page<Step>> {
    return listSteps(this.reads, sessionId, page);
  }

  async listSnapshots(sessionId: string, page: PageRequest): Promise<Page<Snapshot>> {
    return listSnapshots(this.reads, sessionId, page);
  }

  async snapshot(sessionId: string, version: bigint): Promise<Snapshot | undefined> {
    return snapshotAt(this.reads, sessionId, version);
  }

  async list(filter: SessionFilter, page: PageRequest): Promise<Page<Session>> {
    return listSessions(this.reads, filter, page);
  }

  async delete(sessionId: string): Promise<boolean> {
    checkKey(sessionId);
    return guard("deleting the session", async () => {
      const head = await this.reads.live(sessionId);
      const res = await this.reads.c.heads.deleteOne({ _id: sessionId });
      // Records go after the head: should this stop half-way, they belong
      // to an incarnation no head has any more, and no reader sees them.
      await deleteRecords(this.reads.c, sessionId);
      return head !== undefined && res.deletedCount === 1;
    });
  }

  /**
   * sweep deletes sessions that expired, with their records, a batch at a
   * time; first it makes the indexes start-up could not.
   */
  async sweep(): Promise<number> {
    if (this.indexesPending) {
      await guard("creating indexes", () => createSessionIndexes(this.reads.c));
      this.indexesPending = false;
    }
    return sweepExpired(this.reads.c, this.reads.clock.now());
  }

  async flowStats(query: OutcomeQuery): Promise<VersionCounts[]> {
    return flowStatsOf(this.reads.c.heads, query);
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.client.close();
  }

  /**
   * database is the store's database, for the stores that keep their
   * collections beside the sessions (registry, rollouts, replica
   * directory) and share this client; closing this store closes it.
   */
  get database(): Db {
    return this.db;
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
}
