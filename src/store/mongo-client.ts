import { type CommandStartedEvent, type Db, MongoClient, type MongoClientOptions } from "mongodb";

/**
 * storeConcerns are the consistency settings the stores rely on, applied
 * to every client they make; they take precedence over the same options
 * in the connection string, because commits are only safe with them. On a
 * single server (or FerretDB) they cost nothing and change nothing; they
 * matter on a replica set or a sharded cluster:
 *
 * - writes wait until a majority of the replica set has them in its
 *   journal (`w: "majority", j: true`): a version acknowledged to the
 *   engine survives the loss of the primary, so no turn's reply is sent
 *   for a commit that a failover rolls back. `wtimeoutMS` bounds that wait
 *   when the majority is unreachable: the write then fails UNAVAILABLE
 *   instead of hanging the turn (it may have landed; see
 *   storeErrorFromMongoReason).
 * - reads see only majority-committed data (`readConcern: "majority"`)
 *   from the primary (`readPreference: "primary"`): the versions a turn
 *   decides on cannot be rolled back under it, and a replica reading right
 *   after another one's commit sees it. A secondary could lag and show an
 *   older version, which the commit's compare-and-set would refuse anyway
 *   (ABORTED and a rerun) — so secondaries would cost reruns, not save
 *   load.
 * - retryable writes and reads: across a primary failover the driver sends
 *   a failed write once more to the new primary, which recognises a write
 *   it applied already (by the write's session and transaction number) and
 *   answers as the first time. Should the retry fail too, the turn fails
 *   UNAVAILABLE and the client sends it again with its turn id; a commit
 *   whose acknowledgement was lost is then found by that turn id (in the
 *   latest version's `recentTurns`, or in the version document that
 *   already exists) and replayed, never applied twice.
 */
export const storeConcerns = {
  writeConcern: { w: "majority", journal: true, wtimeoutMS: 5_000 },
  readConcern: { level: "majority" },
  readPreference: "primary",
  retryWrites: true,
  retryReads: true,
} as const satisfies MongoClientOptions;

/**
 * mongoClientOf makes a client with the storeConcerns that gives up
 * looking for a reachable server after `serverSelectionTimeoutMs` (default
 * 2000), so that an operation on a database that is down fails UNAVAILABLE
 * within that time instead of hanging the turn. It does not connect yet.
 * `onCommand`, when given, is called with every command the client sends
 * (the driver's command monitoring; off, at no cost, without it).
 */
export function mongoClientOf(
  uri: string,
  serverSelectionTimeoutMs: number | undefined,
  appName: string,
  onCommand?: (event: CommandStartedEvent) => void,
): MongoClient {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: serverSelectionTimeoutMs ?? 2000,
    connectTimeoutMS: serverSelectionTimeoutMs ?? 2000,
    appName,
    ...storeConcerns,
    writeConcern: { ...storeConcerns.writeConcern },
    readConcern: { ...storeConcerns.readConcern },
    // The same again as top-level options: the driver lets the connection
    // string's `w`, `journal`, `wtimeoutMS` and `readConcernLevel` win over
    // the objects above, but not over these.
    ...storeConcerns.writeConcern,
    readConcernLevel: storeConcerns.readConcern.level,
    monitorCommands: onCommand !== undefined,
  });
  if (onCommand !== undefined) client.on("commandStarted", onCommand);
  return client;
}

/**
 * databaseNameOf is the database a store uses: the one it was given, else
 * the one named in the connection string, else "switchboard".
 */
export function databaseNameOf(uri: string, database: string | undefined): string {
  return database || databaseOf(uri) || "switchboard";
}

/**
 * databaseOf returns the database named in a MongoDB connection string.
 */
export function databaseOf(uri: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/**
 * MongoTarget is where a store beside the session store keeps its
 * collections: a database of its own (a URI, a client made for it), or the
 * session store's database, whose client it then shares — one pool and one
 * set of server monitors per process instead of one per store.
 */
export type MongoTarget =
  | {
      uri: string;
      /** The database; the URI's, else "switchboard". */
      database?: string;
      /** How long to look for a reachable server before failing UNAVAILABLE (default 2000). */
      serverSelectionTimeoutMs?: number;
    }
  | { db: Db };

/**
 * databaseOfTarget returns a store's database and how to let go of it:
 * closing the client made for it, or nothing when the database is shared
 * (its owner closes the client).
 */
export function databaseOfTarget(target: MongoTarget, appName: string): { db: Db; close: () => Promise<void> } {
  if ("db" in target) return { db: target.db, close: async () => {} };
  const client = mongoClientOf(target.uri, target.serverSelectionTimeoutMs, appName);
  return { db: client.db(databaseNameOf(target.uri, target.database)), close: () => client.close() };
}
