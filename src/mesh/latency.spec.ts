import { describe, expect, it } from "vitest";
import { LatencyStats } from "./latency.js";

describe("LatencyStats", () => {
  it("costs nothing before its first sample", () => {
    const s = new LatencyStats();
    expect(s.cost(0)).toBe(0);
    expect(s.median()).toBeUndefined();
  });

  it("jumps to a slow sample at once and comes down gradually", () => {
    const s = new LatencyStats(10_000);
    s.observe(10, 1000);
    s.observe(600, 1000);
    expect(s.cost(1000)).toBe(600);
    s.observe(10, 1000);
    expect(s.cost(1000)).toBeLessThan(600);
    expect(s.cost(1000)).toBeGreaterThan(300);
  });

  it("decays while idle, so a once-slow instance is tried again", () => {
    const s = new LatencyStats(1000);
    s.observe(500, 0);
    expect(s.cost(1000)).toBeCloseTo(500 / Math.E, 5);
    expect(s.cost(10_000)).toBeLessThan(1);
  });

  it("charges a failure its penalty in the cost but not in the median", () => {
    const s = new LatencyStats();
    s.observe(2, 0, 1000);
    expect(s.cost(0)).toBe(1000);
    expect(s.median()).toBe(2);
  });

  it("reports the median of a bounded window of recent samples", () => {
    const s = new LatencyStats(10_000, 4);
    for (const ms of [100, 1, 2, 3, 4]) s.observe(ms, 0);
    expect(s.median()).toBe(2.5); // 100 fell out of the window
  });
});
