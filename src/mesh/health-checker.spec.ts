import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HealthChecker, type HealthVerdict } from "./health-checker.js";

const opts = { intervalMs: 1000, timeoutMs: 100, reconnectInitialMs: 100, reconnectMaxMs: 400 };

describe("HealthChecker", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("checks at once, then every interval while the instance answers", async () => {
    const probes: number[] = [];
    const h = new HealthChecker(opts, async () => (probes.push(Date.now()), "serving"), () => 0.5);
    const t0 = Date.now();
    h.watch("a");
    expect(h.state("a")).toBe("unknown");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.state("a")).toBe("serving");
    await vi.advanceTimersByTimeAsync(3000);
    expect(probes.map((t) => t - t0)).toEqual([0, 1000, 2000, 3000]);
    h.stop();
  });

  it("backs off exponentially (capped) while the instance cannot be reached, and recovers", async () => {
    let verdict: HealthVerdict = "unreachable";
    const probes: number[] = [];
    const h = new HealthChecker(opts, async () => (probes.push(Date.now()), verdict), () => 0.5);
    const t0 = Date.now();
    h.watch("a");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.state("a")).toBe("not_serving");
    await vi.advanceTimersByTimeAsync(100 + 160 + 256 + 400 + 400);
    expect(probes.map((t) => t - t0)).toEqual([0, 100, 260, 516, 916, 1316]);
    verdict = "serving";
    await vi.advanceTimersByTimeAsync(400);
    expect(h.state("a")).toBe("serving");
    h.stop();
  });

  it("takes call outcomes: a connection failure marks it not serving at once, a served call serving", async () => {
    const h = new HealthChecker(opts, async () => "serving", () => 0.5);
    h.watch("a");
    await vi.advanceTimersByTimeAsync(0);
    h.reportUnreachable("a");
    expect(h.state("a")).toBe("not_serving");
    h.reportSuccess("a");
    expect(h.state("a")).toBe("serving");
    h.unwatch("a");
    expect(h.state("a")).toBe("unknown");
    h.stop();
  });
});

describe("HealthChecker judging timeouts", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("does not mark an instance down for a check that timed out while this process's loop stalled", async () => {
    let stalled = false;
    const loop = { stalledSince: () => stalled, delayMs: () => 0 };
    let verdict: HealthVerdict = "serving";
    const probes: number[] = [];
    const h = new HealthChecker(opts, async () => (probes.push(Date.now()), verdict), () => 0.5, () => {}, loop);
    const t0 = Date.now();
    h.watch("a");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.state("a")).toBe("serving");
    stalled = true;
    verdict = "timed_out";
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.state("a")).toBe("serving");
    // Checked again soon, not a whole interval later.
    stalled = false;
    verdict = "serving";
    await vi.advanceTimersByTimeAsync(100);
    expect(probes.map((t) => t - t0)).toEqual([0, 1000, 1100]);
    expect(h.state("a")).toBe("serving");
    // A timeout with the loop healthy counts.
    verdict = "timed_out";
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.state("a")).toBe("not_serving");
    h.stop();
  });
});
