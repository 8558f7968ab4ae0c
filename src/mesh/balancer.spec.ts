import { describe, expect, it } from "vitest";
import type { Candidate } from "./balancer.js";
import { leastOutstandingBalancer } from "./balancer-least-outstanding.js";
import { p2cBalancer } from "./balancer-p2c.js";

const c = (id: string, inFlight: number, cost: number): Candidate => ({ id, inFlight, cost: () => cost });

/** seeded is a small deterministic random source (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("p2cBalancer", () => {
  it("returns undefined for no candidates and the only one for one", () => {
    const b = p2cBalancer();
    expect(b.pick([], 0)).toBeUndefined();
    expect(b.pick([c("a", 5, 500)], 0)?.id).toBe("a");
  });

  it("between two, always takes the one with the lower load", () => {
    const b = p2cBalancer(seeded(1));
    for (let i = 0; i < 50; i++) {
      expect(b.pick([c("slow", 0, 600), c("fast", 0, 2)], 0)?.id).toBe("fast");
      expect(b.pick([c("busy", 8, 2), c("idle", 0, 2)], 0)?.id).toBe("idle");
    }
  });

  it("never picks the worst of three and spreads over the others", () => {
    const b = p2cBalancer(seeded(7));
    const counts: Record<string, number> = { a: 0, b: 0, worst: 0 };
    const list = [c("a", 0, 2), c("b", 0, 2), c("worst", 0, 1000)];
    for (let i = 0; i < 600; i++) counts[b.pick(list, 0)!.id]!++;
    expect(counts["worst"]).toBe(0);
    expect(counts["a"]).toBeGreaterThan(150);
    expect(counts["b"]).toBeGreaterThan(150);
  });
});

describe("leastOutstandingBalancer", () => {
  it("takes the fewest in flight, then the lower cost", () => {
    const b = leastOutstandingBalancer(seeded(3));
    expect(b.pick([c("a", 2, 1), c("b", 1, 50), c("c", 3, 1)], 0)?.id).toBe("b");
    expect(b.pick([c("a", 1, 9), c("b", 1, 3)], 0)?.id).toBe("b");
  });
});
