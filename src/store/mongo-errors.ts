import { Code, ConnectError } from "@connectrpc/connect";
import { MongoError, MongoServerError } from "mongodb";
import { invalidArgument, mark, unavailable } from "../core/errors.js";

/**
 * isDuplicateKey tells whether a write failed on a unique index.
 */
export function isDuplicateKey(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === 11000;
}

/**
 * guard runs a database operation and turns driver failures into gRPC
 * errors: an unreachable database is UNAVAILABLE (the turn can be sent
 * again once it is back), anything else INTERNAL, never a driver stack
 * trace. Every error is marked as the store's.
 */
export async function guard<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof ConnectError) throw mark(e, "store");
    if (e instanceof MongoError && isConnectivity(e)) {
      throw mark(
        unavailable(`the session store is unavailable (${what}): ${e.message}; nothing was committed, try again`, e),
        "store",
      );
    }
    if (e instanceof Error && /too large|BSONObjectTooLarge|exceeds maximum/i.test(e.message)) {
      throw mark(invalidArgument("state", `the session is too large to store (${what}): ${e.message}`), "store");
    }
    throw mark(
      new ConnectError(
        `the session store failed (${what}): ${e instanceof Error ? e.message : String(e)}`,
        Code.Internal,
        undefined,
        undefined,
        e,
      ),
      "store",
    );
  }
}

function isConnectivity(e: MongoError): boolean {
  return (
    [
      "MongoServerSelectionError",
      "MongoNetworkError",
      "MongoNetworkTimeoutError",
      "MongoTopologyClosedError",
      "MongoNotConnectedError",
      "PoolClearedError",
      "PoolClearedOnNetworkError",
      "MongoPoolClearedError",
    ].includes(e.name) ||
    e.hasErrorLabel("RetryableWriteError") ||
    e.hasErrorLabel("ResetPool")
  );
}

/**
 * databaseOf returns the database named in a MongoDB connection string.
 */
export function databaseOf(uri: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}
