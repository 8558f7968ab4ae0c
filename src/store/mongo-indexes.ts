/*
 * What the session store asks of MongoDB, collection by collection: the
 * index each of its queries uses, and the shard key each collection is
 * sharded by on a sharded cluster. test/mongo-cluster.test.ts runs the
 * store's real queries and reads their plans (`explain`) on the server at
 * hand; deploy/mongodb/shard-collections.js applies the shard keys.
 */

/** SessionCollectionName names a collection of the session store. */
export type SessionCollectionName = "sessions" | "session_versions" | "session_failures";

/**
 * StoreIndex is an index of the session store: its collection, name and
 * key, and the queries that use it.
 */
export interface StoreIndex {
  collection: SessionCollectionName;
  name: string;
  key: Readonly<Record<string, 1 | -1>>;
  /** The queries that use it. */
  usedBy: string;
  /** Made by createExpiryIndex: a TTL index, named `expires` on servers without TTL indexes. */
  expiry?: true;
}

/**
 * sessionIndexes are the session store's indexes. Every query a turn makes
 * is an exact `_id` lookup (a head by session id, a version by its id):
 * it uses the `_id_` index every collection has, on every server. The
 * other indexes serve listings, the sweeper and deletes.
 */
export const sessionIndexes: readonly StoreIndex[] = [
  { collection: "sessions", name: "_id_", key: { _id: 1 }, usedBy: "every read and write of a session's head, by session id" },
  { collection: "sessions", name: "status_updated", key: { status: 1, updatedAt: -1 }, usedBy: "ListSessions filtered by status, newest first" },
  { collection: "sessions", name: "tenant_updated", key: { tenant: 1, updatedAt: -1 }, usedBy: "ListSessions filtered by tenant, newest first" },
  {
    collection: "sessions",
    name: "expires_ttl",
    key: { expiresAt: 1 },
    usedBy: "the sweeper's query for expired sessions and ListSessions without a filter; the server deletes heads a day after expiry",
    expiry: true,
  },
  {
    collection: "session_versions",
    name: "_id_",
    key: { _id: 1 },
    usedBy: "reading and committing a version (one id), ListSteps and ListSnapshots (a range of one session's ids)",
  },
  { collection: "session_versions", name: "session", key: { session: 1 }, usedBy: "deleting a session's versions" },
  { collection: "session_failures", name: "_id_", key: { _id: 1 }, usedBy: "recording a failed turn (one id), ListSteps and resumes (a range of one session's ids)" },
  { collection: "session_failures", name: "session", key: { session: 1 }, usedBy: "deleting a session's failed turns" },
];

/**
 * sessionShardKeys are the shard keys of the session store's collections
 * on a sharded cluster; all of them shard by session id.
 *
 * - `sessions` by `{ _id: "hashed" }`: a head's `_id` is its session id,
 *   and every read and write of a head names it, so each goes to one
 *   shard; hashing spreads sessions evenly whatever their ids look like
 *   (`call-000001`, `call-000002`... would all land on the last chunk of a
 *   ranged key). Listings by status or tenant ask every shard (mongos
 *   merges their sorted results), each shard using its own index.
 * - `session_versions` and `session_failures` by `{ _id: 1 }` (ranged): a
 *   record's `_id` starts with its session id (`<session>/<incarnation>/
 *   <version>`), so a session's records are one contiguous range: a read
 *   of one version and a listing of a session's range both go to one
 *   shard. With `_id` as the shard key its uniqueness is enforced across
 *   the whole cluster, and that uniqueness is the commit's compare-and-set
 *   (see VersionDoc). Session ids that grow in order put new sessions on
 *   one shard at a time; random ids (UUIDs) spread them.
 *
 * The registry's `agent_registrations` collection is small and stays
 * unsharded (on the database's primary shard).
 */
export const sessionShardKeys = {
  sessions: { _id: "hashed" },
  session_versions: { _id: 1 },
  session_failures: { _id: 1 },
} as const satisfies Record<SessionCollectionName, Record<string, 1 | "hashed">>;
