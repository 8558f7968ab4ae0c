import type { RecentTurn } from "./mongo-turn-window.js";

/** KnownVersion is what a store remembers of a session's latest version. */
export interface KnownVersion {
  inc: string;
  version: number;
  recentTurns: RecentTurn[];
  /**
   * Set when a commit found a newer version than the head named: the head
   * lags (its writer stopped between the commit and the head's update), so
   * the next read looks past it.
   */
  headLags?: boolean;
}

/** knownLimit is how many sessions a store remembers; the oldest goes first. */
const knownLimit = 10_000;

/**
 * KnownVersions is what this process last read or wrote of each recent
 * session (bounded, oldest out). It lets a turn read the latest version
 * beside the head in one round trip, and a commit skip reading the version
 * it builds on; a stale entry only costs the read it would have saved.
 */
export class KnownVersions {
  private readonly known = new Map<string, KnownVersion>();

  /** get returns what is known of a session, if anything. */
  get(sessionId: string): KnownVersion | undefined {
    return this.known.get(sessionId);
  }

  /** remember notes a session's latest version, as the newest entry. */
  remember(sessionId: string, known: KnownVersion): void {
    this.known.delete(sessionId);
    this.known.set(sessionId, known);
    if (this.known.size > knownLimit) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }

  /** forget drops a session that is gone. */
  forget(sessionId: string): void {
    this.known.delete(sessionId);
  }
}
