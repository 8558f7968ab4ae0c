/**
 * RecentTurn is a client turn id a session remembers, with the version it
 * was committed in.
 */
export interface RecentTurn {
  id: string;
  v: number;
}

/**
 * turnWindow is how many recent client turn ids a session remembers for
 * replays; a gateway retry comes within seconds, far inside it.
 */
export const turnWindow = 128;

/**
 * recentTurnOf finds a turn id among the turns a version remembers: a turn
 * found there was applied already, in the version it names.
 */
export function recentTurnOf(recent: readonly RecentTurn[], turnId: string): RecentTurn | undefined {
  return recent.find((t) => t.id === turnId);
}

/**
 * recentTurnsAfter is what the next version remembers: the window moved on
 * by the turn that makes it, or the same turns when no client turn did
 * (the array is shared then, not copied).
 */
export function recentTurnsAfter(recent: RecentTurn[], turnId: string | undefined, version: number): RecentTurn[] {
  return turnId === undefined ? recent : [...recent, { id: turnId, v: version }].slice(-turnWindow);
}
