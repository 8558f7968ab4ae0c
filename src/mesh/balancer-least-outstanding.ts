import type { Balancer, Candidate } from "./balancer.js";

/**
 * leastOutstandingBalancer picks the candidate with the fewest calls in
 * flight, breaking ties by the lower latency cost and then at random.
 */
export function leastOutstandingBalancer(random: () => number = Math.random): Balancer {
  return {
    pick<C extends Candidate>(candidates: readonly C[], now: number): C | undefined {
      let best: C[] = [];
      let bestKey: [number, number] = [Infinity, Infinity];
      for (const c of candidates) {
        const key: [number, number] = [c.inFlight, Math.round(c.cost(now))];
        const cmp = key[0] - bestKey[0] || key[1] - bestKey[1];
        if (cmp < 0) {
          best = [c];
          bestKey = key;
        } else if (cmp === 0) {
          best.push(c);
        }
      }
      return best[Math.floor(random() * best.length)];
    },
  };
}
