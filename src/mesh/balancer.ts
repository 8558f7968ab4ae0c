/**
 * Candidate is an instance a balancer may pick, as the balancer sees it.
 */
export interface Candidate {
  readonly id: string;
  /** Calls in flight to it from this replica. */
  readonly inFlight: number;
  /** Its latency cost in ms (see LatencyStats.cost): 0 when unknown. */
  cost(now: number): number;
}

/**
 * Balancer picks one instance of an agent for a call among the candidates
 * the mesh considers eligible (healthy, breaker permitting, not ejected).
 * It holds no state of its own, so it can be swapped freely.
 */
export interface Balancer {
  /** pick returns one of `candidates`, or undefined when there are none. */
  pick<C extends Candidate>(candidates: readonly C[], now: number): C | undefined;
}

/**
 * load is the expected wait at an instance: its latency cost times the calls
 * it already has (plus the new one). The 1 ms floor keeps in-flight counts
 * meaningful between instances with no latency samples yet.
 */
export function load(c: Candidate, now: number): number {
  return (c.cost(now) + 1) * (c.inFlight + 1);
}
