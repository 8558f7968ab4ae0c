import { describe, expect, it } from "vitest";
import { LoopDelayMonitor } from "./loop-delay.js";

/** clock is a settable time source. */
function clock(start = 1000) {
  let t = start;
  return { now: () => t, to: (at: number) => void (t = at) };
}

describe("LoopDelayMonitor", () => {
  it("sees no stall while its samples come on time", () => {
    const c = clock();
    const m = new LoopDelayMonitor({ sampleMs: 100, stallMs: 500, now: c.now });
    for (let at = 1100; at <= 2000; at += 100) {
      c.to(at + 20);
      m.sample();
      c.to(at + 100);
    }
    expect(m.stalledSince(1000)).toBe(false);
    expect(m.delayMs()).toBeLessThan(30);
  });

  it("places a stall in time: a window that saw it was stalled, one after it was not", () => {
    const c = clock();
    const m = new LoopDelayMonitor({ sampleMs: 100, stallMs: 500, now: c.now });
    c.to(1100);
    m.sample();
    // The loop stops for two seconds; the next sample fires that late.
    c.to(3200);
    m.sample();
    expect(m.stalledSince(1050)).toBe(true);
    expect(m.stalledSince(3200)).toBe(true);
    expect(m.stalledSince(3201)).toBe(false);
    expect(m.delayMs()).toBeGreaterThan(500);
  });

  it("sees a stall still going on before its own sample fires", () => {
    const c = clock();
    const m = new LoopDelayMonitor({ sampleMs: 100, stallMs: 500, now: c.now });
    c.to(1100);
    m.sample();
    // A judge's timer runs first after a stop: the sample is overdue.
    c.to(1800);
    expect(m.stalledSince(1700)).toBe(true);
    expect(m.delayMs()).toBeGreaterThanOrEqual(600);
    // A little late is not a stall.
    c.to(1400);
    expect(m.stalledSince(1300)).toBe(false);
  });
});
