import { describe, expect, it } from "vitest";
import { defaultOutlierOptions, OutlierDetector } from "./outlier-detector.js";

const opts = { ...defaultOutlierOptions, minimumRequests: 4, minimumHosts: 2, baseEjectionMs: 1000, maxEjectionMs: 3000 };

function feed(d: OutlierDetector, id: string, ok: number, failed: number) {
  for (let i = 0; i < ok; i++) d.record(id, true);
  for (let i = 0; i < failed; i++) d.record(id, false);
}

describe("OutlierDetector", () => {
  it("ejects an instance whose failure share reaches the threshold, for the base time", () => {
    const d = new OutlierDetector(opts);
    feed(d, "good", 10, 0);
    feed(d, "flaky", 5, 5);
    feed(d, "fine", 9, 1);
    expect(d.evaluate(["good", "flaky", "fine"], 0)).toEqual(["flaky"]);
    expect(d.isEjected("flaky", 999)).toBe(true);
    expect(d.isEjected("flaky", 1000)).toBe(false);
    expect(d.isEjected("good", 0)).toBe(false);
  });

  it("judges nobody without enough calls or enough instances", () => {
    const d = new OutlierDetector(opts);
    feed(d, "a", 0, 3);
    feed(d, "b", 10, 0);
    expect(d.evaluate(["a", "b"], 0)).toEqual([]); // a made too few calls
    feed(d, "a", 0, 10);
    expect(d.evaluate(["a"], 0)).toEqual([]); // one instance cannot stand out
  });

  it("never ejects more than the maximum share of instances", () => {
    const d = new OutlierDetector({ ...opts, maxEjectionPercent: 50 });
    for (const id of ["a", "b", "c", "d"]) feed(d, id, 0, 10);
    expect(d.evaluate(["a", "b", "c", "d"], 0)).toHaveLength(2);
  });

  it("ejects a repeat offender for longer, up to the maximum", () => {
    const d = new OutlierDetector(opts);
    let now = 0;
    const round = () => {
      feed(d, "bad", 0, 10);
      feed(d, "ok", 10, 0);
      return d.evaluate(["bad", "ok"], now);
    };
    round();
    expect(d.isEjected("bad", now + 999)).toBe(true);
    now += 1000;
    round();
    expect(d.isEjected("bad", now + 1999)).toBe(true);
    expect(d.isEjected("bad", now + 2000)).toBe(false);
    now += 2000;
    round();
    now += 3000;
    round();
    expect(d.isEjected("bad", now + 2999)).toBe(true);
    expect(d.isEjected("bad", now + 3000)).toBe(false);
  });
});
