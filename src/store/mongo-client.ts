import { MongoClient } from "mongodb";

/**
 * mongoClientOf makes a client that gives up looking for a reachable
 * server after `serverSelectionTimeoutMs` (default 2000), so that an
 * operation on a database that is down fails UNAVAILABLE within that time
 * instead of hanging the turn. It does not connect yet.
 */
export function mongoClientOf(uri: string, serverSelectionTimeoutMs: number | undefined, appName: string): MongoClient {
  return new MongoClient(uri, {
    serverSelectionTimeoutMS: serverSelectionTimeoutMs ?? 2000,
    connectTimeoutMS: serverSelectionTimeoutMs ?? 2000,
    appName,
  });
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
