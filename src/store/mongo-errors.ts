import { Code, ConnectError } from "@connectrpc/connect";
import { MongoError, MongoServerError, MongoWriteConcernError } from "mongodb";
import { invalidArgument, mark, unavailable } from "../core/errors.js";

/*
 * The one place where MongoDB driver and network errors become gRPC
 * errors: nothing above the store sees a driver error or its stack.
 */

/** duplicateKeyCode is the server's error code for a write that broke a unique index. */
const duplicateKeyCode = 11000;

/**
 * isDuplicateKey tells whether a write failed on a unique index: for a
 * version document, that another writer committed that version first.
 */
export function isDuplicateKey(e: unknown): boolean {
  return e instanceof MongoServerError && e.code === duplicateKeyCode;
}

/**
 * connectivityErrorNames are the driver's errors for a server that cannot
 * be reached or a connection that broke.
 */
const connectivityErrorNames = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoTopologyClosedError",
  "MongoNotConnectedError",
  "PoolClearedError",
  "PoolClearedOnNetworkError",
  "MongoPoolClearedError",
]);

/** tooLargePattern matches the messages of a document above the server's (or driver's) size limit. */
const tooLargePattern = /too large|BSONObjectTooLarge|exceeds maximum/i;

/**
 * storeErrorFromMongoReason maps what a database operation threw (while
 * doing `what`) to the ConnectError that leaves the store, marked as the
 * store's.
 */
export function storeErrorFromMongoReason(what: string, reason: unknown): ConnectError {
  if (reason instanceof ConnectError) {
    // Already a gRPC error, thrown on purpose inside the operation (such as
    // a commit's conflict): keep its code and message.
    return mark(reason, "store");
  }
  if (reason instanceof MongoWriteConcernError || (reason instanceof MongoServerError && reason.hasErrorLabel("RetryableWriteError"))) {
    // The primary took the write but could not confirm it to a majority
    // (wtimeout), or stepped down while writing and the driver's one retry
    // failed too: the write may or may not have landed. Sending the turn
    // again is safe: its turn id finds a commit that did land.
    return mark(
      unavailable(`the session store's primary changed or lost its majority (${what}): ${reason.message}; the write may have landed, send the turn again with the same turn id`, reason), "store"
    );
  }
  if (reason instanceof MongoError && isConnectivity(reason)) {
    // The database is down or unreachable: nothing was written, and the
    // same request can succeed once it is back, so the caller may retry.
    return mark(
      unavailable(`the session store is unavailable (${what}): ${reason.message}; nothing was committed, try again`, reason), "store"
    );
  }
  if (reason instanceof Error && tooLargePattern.test(reason.message)) {
    // The document is above a size limit: sending it again cannot help,
    // the caller has to keep less in the session.
    return mark(invalidArgument("state", `the session is too large to store (${what}): ${reason.message}`), "store");
  }
  // Anything else is the store's own failure: INTERNAL, with the driver's
  // message but never its stack.
  return mark(
    new ConnectError(
      `the session store failed (${what}): ${reason instanceof Error ? reason.message : String(reason)}`,
      Code.Internal,
      undefined,
      undefined,
      reason,
    ), "store"
  );
}

/**
 * guard runs a database operation and throws what it throws as
 * storeErrorFromMongoReason maps it.
 */
export async function guard<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw storeErrorFromMongoReason(what, e);
  }
}

/**
 * isConnectivity tells whether a driver error means the server could not
 * be reached: by its class, or by the labels the driver puts on errors
 * after which it retries writes or drops its connection pool.
 */
function isConnectivity(e: MongoError): boolean {
  return connectivityErrorNames.has(e.name) || e.hasErrorLabel("RetryableWriteError") || e.hasErrorLabel("ResetPool");
}
