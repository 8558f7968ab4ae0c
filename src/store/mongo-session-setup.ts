import { Code, ConnectError } from "@connectrpc/connect";
import type { MongoClient } from "mongodb";
import { guard } from "./mongo-errors.js";
import { createExpiryIndex } from "./mongo-expiry.js";
import { sessionIndexes } from "./mongo-indexes.js";
import type { SessionCollections } from "./mongo-session-docs.js";

/**
 * createSessionIndexes makes the session store's indexes (sessionIndexes);
 * creating one that exists does nothing, so every start runs it.
 */
export async function createSessionIndexes(c: SessionCollections): Promise<void> {
  const collections = { sessions: c.heads, session_versions: c.versions, session_failures: c.failures };
  for (const index of sessionIndexes) {
    // Every collection has its `_id_` index already.
    if (index.name === "_id_") continue;
    if (index.expiry) await createExpiryIndex(c.heads);
    else await collections[index.collection].createIndex({ ...index.key }, { name: index.name });
  }
}

/**
 * connectSessionStore connects and creates the indexes. It returns false,
 * after reporting why to `onBackgroundError`, when the database could not
 * be reached: the store still starts (turns fail UNAVAILABLE until the
 * database is back), and the indexes are to be made later. Any other
 * failure is thrown.
 */
export async function connectSessionStore(
  client: MongoClient,
  c: SessionCollections,
  onBackgroundError: ((err: unknown, what: string) => void) | undefined,
): Promise<boolean> {
  try {
    await guard("connecting to the session store", async () => {
      await client.connect();
      await createSessionIndexes(c);
    });
    return true;
  } catch (e) {
    if (!(e instanceof ConnectError) || e.code !== Code.Unavailable) throw e;
    onBackgroundError?.(e, "connecting to the session store");
    return false;
  }
}
