import type { Collection } from "mongodb";
import type { ReplicaDirectory, ReplicaEntry } from "../server/replica-directory.js";
import { databaseOfTarget, type MongoTarget } from "./mongo-client.js";
import { guard } from "./mongo-errors.js";

/**
 * ReplicaDoc is one replica in the `replicas` collection. Times are epoch
 * milliseconds, kept as numbers so they compare exactly.
 */
interface ReplicaDoc {
  _id: string;
  url: string;
  expiresAt: number;
}

/**
 * MongoReplicaDirectoryOptions configure a MongoReplicaDirectory.
 */
export type MongoReplicaDirectoryOptions = MongoTarget;

/**
 * MongoReplicaDirectory keeps the orchestrator replicas' addresses in the
 * `replicas` collection of the session database. Each heartbeat is one
 * single-document upsert and one small query; nothing of it is on a
 * turn's path.
 */
export class MongoReplicaDirectory implements ReplicaDirectory {
  private readonly release: () => Promise<void>;
  private readonly replicas: Collection<ReplicaDoc>;

  constructor(opts: MongoReplicaDirectoryOptions) {
    const { db, close } = databaseOfTarget(opts, "switchboard-replicas");
    this.release = close;
    this.replicas = db.collection<ReplicaDoc>("replicas");
  }

  async announce(entry: ReplicaEntry): Promise<void> {
    await guard("announcing this replica", () =>
      this.replicas.replaceOne({ _id: entry.id }, { url: entry.url, expiresAt: entry.expiresAt }, { upsert: true }),
    );
  }

  async live(now: number): Promise<ReplicaEntry[]> {
    const docs = await guard("listing replicas", () => this.replicas.find({ expiresAt: { $gt: now } }).sort({ _id: 1 }).limit(1000).toArray());
    return docs.map((d) => ({ id: d._id, url: d.url, expiresAt: d.expiresAt }));
  }

  async withdraw(id: string): Promise<void> {
    await guard("withdrawing this replica", () => this.replicas.deleteOne({ _id: id }));
  }

  async sweep(now: number): Promise<void> {
    await guard("sweeping stopped replicas", () => this.replicas.deleteMany({ expiresAt: { $lte: now } }));
  }

  async close(): Promise<void> {
    await this.release();
  }
}
