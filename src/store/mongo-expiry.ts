import { type Collection, MongoServerError } from "mongodb";
import { guard } from "./mongo-errors.js";
import type { HeadDoc, SessionCollections } from "./mongo-session-docs.js";

/*
 * Sessions expire at their head's `expiresAt` (see expiryOf). Reads treat
 * a session as gone from then on; the sweeper deletes it with its records,
 * and a TTL index deletes heads no sweeper got to.
 */

/** sweepBatch is how many expired sessions one sweep deletes at most. */
const sweepBatch = 500;

/**
 * createExpiryIndex makes the index the sweeper's query uses: a TTL index
 * where the server has them, so that heads go a day after they expired
 * even when no orchestrator runs the sweeper.
 */
export async function createExpiryIndex(heads: Collection<HeadDoc>): Promise<void> {
  try {
    // A day's grace: the sweeper, when one runs, deletes a session with
    // its records first; the server deleting the head alone leaves them.
    await heads.createIndex({ expiresAt: 1 }, { name: "expires_ttl", expireAfterSeconds: 86_400 });
  } catch (e) {
    // Servers without TTL indexes still get one for the sweeper's query.
    if (!(e instanceof MongoServerError)) throw e;
    await heads.createIndex({ expiresAt: 1 }, { name: "expires" });
  }
}

/**
 * sweepExpired deletes sessions that expired by `now`, with their records,
 * one batch at a time; it returns how many it deleted.
 */
export async function sweepExpired(c: SessionCollections, now: Date): Promise<number> {
  const expired = await guard("finding expired sessions", () =>
    c.heads.find({ expiresAt: { $lte: now } }, { projection: { _id: 1, inc: 1 } }).limit(sweepBatch).toArray(),
  );
  let removed = 0;
  for (const { _id, inc } of expired) {
    // Only that incarnation, and only if still expired.
    const res = await c.heads.deleteOne({ _id, inc, expiresAt: { $lte: now } });
    if (res.deletedCount === 1) {
      removed++;
      await deleteRecords(c, _id);
    }
  }
  return removed;
}

/**
 * deleteRecords deletes a session's versions and failed steps: those of
 * one incarnation, or of all when `inc` is left out.
 */
export async function deleteRecords(c: SessionCollections, sessionId: string, inc?: string): Promise<void> {
  const filter = inc === undefined ? { session: sessionId } : { session: sessionId, inc };
  await Promise.all([c.versions.deleteMany(filter), c.failures.deleteMany(filter)]);
}

/**
 * startSweeper runs `sweep` every `everyMs` (0 runs none), reporting its
 * failures to `onError`. The timer does not keep the process alive.
 */
export function startSweeper(
  everyMs: number,
  sweep: () => Promise<unknown>,
  onError: (err: unknown) => void,
): NodeJS.Timeout | undefined {
  if (everyMs <= 0) return undefined;
  const timer = setInterval(() => {
    sweep().catch(onError);
  }, everyMs);
  timer.unref();
  return timer;
}
