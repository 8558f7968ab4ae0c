import { type Balancer, type Candidate, load } from "./balancer.js";

/**
 * p2cBalancer is power of two choices: it draws two distinct candidates at
 * random and takes the one with the lower load (latency cost times calls in
 * flight). It spreads load almost as well as a full scan without herding
 * every call onto the one instance that looked best a moment ago.
 */
export function p2cBalancer(random: () => number = Math.random): Balancer {
  return {
    pick<C extends Candidate>(candidates: readonly C[], now: number): C | undefined {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const i = Math.floor(random() * n);
      let j = Math.floor(random() * (n - 1));
      if (j >= i) j++;
      const a = candidates[i] as C;
      const b = candidates[j] as C;
      const la = load(a, now);
      const lb = load(b, now);
      if (la === lb) return random() < 0.5 ? a : b;
      return la < lb ? a : b;
    },
  };
}
