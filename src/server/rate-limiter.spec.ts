import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("allows the burst, then one per interval, per key", () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3, now: () => now });
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBe(500);
    expect(limiter.take("b")).toBe(0);
    now = 499;
    expect(limiter.take("a")).toBeGreaterThan(0);
    now = 1000;
    expect(limiter.take("a")).toBe(0);
  });

  it("never holds more than the burst", () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 2, now: () => now });
    limiter.take("a");
    now = 60_000;
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a") > 0]).toEqual([0, 0, true]);
  });

  it("forgets the least recently used keys beyond its bound", () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 2, now: () => now });
    limiter.take("a");
    limiter.take("b");
    limiter.take("c");
    // "a" was forgotten, so it starts with a full bucket again.
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("c")).toBeGreaterThan(0);
  });
});
