import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { GuardMetric, RolloutSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { emptyCounts, versionStatsOf, wilson } from "./flow-stats.js";
import { baselineOf, judge, weightsAfterCut } from "./rollout-guard.js";
import { parseWeights } from "./rollout.js";

const guarded = create(RolloutSchema, {
  flowId: "f",
  weights: parseWeights(["2=10", "1=90"]),
  guard: { metric: GuardMetric.FAILED_TURN_RATE, margin: 0.05, minSessions: 20 },
});
const stats = (version: string, sessions: number, turns: number, failedTurns: number) =>
  versionStatsOf({ ...emptyCounts(version), started: sessions, turns, failedTurns });

describe("wilson", () => {
  it("matches the published 95 % interval and stays inside [0, 1]", () => {
    const { low, high } = wilson(10, 100);
    expect(low).toBeCloseTo(0.0552, 3);
    expect(high).toBeCloseTo(0.1744, 3);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(10, 10).high).toBe(1);
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

describe("judge", () => {
  it("cuts a candidate clearly worse than the baseline, giving its weight to the baseline", () => {
    const cut = judge(guarded, [stats("1", 200, 400, 2), stats("2", 30, 60, 30)]);
    expect(cut?.version).toBe("2");
    expect(cut?.baseline).toBe("1");
    expect(cut?.reason).toMatch(/^failed-turns rate of version 2 33\.3% \[.*\] over 30 sessions vs version 1 0\.5% /);
    expect(weightsAfterCut(guarded, cut!)).toEqual([{ version: "2", weight: 0 }, { version: "1", weight: 100 }]);
  });

  it("waits for enough sessions, and does not cut within the noise or the margin", () => {
    expect(judge(guarded, [stats("1", 200, 400, 2), stats("2", 19, 40, 20)])).toBeUndefined();
    expect(judge(guarded, [stats("1", 200, 400, 8), stats("2", 30, 60, 4)])).toBeUndefined();
    expect(judge(create(RolloutSchema, { ...guarded, guard: undefined }), [stats("1", 200, 400, 2), stats("2", 30, 60, 30)])).toBeUndefined();
  });

  it("judges the hand-off rate when the guard says so", () => {
    const handOffs = create(RolloutSchema, { flowId: "f", weights: guarded.weights, guard: { metric: GuardMetric.HAND_OFF_RATE, margin: 0.05, minSessions: 20 } });
    const withHandOffs = (version: string, sessions: number, handedOff: number) => versionStatsOf({ ...emptyCounts(version), started: sessions, handedOff, turns: sessions });
    expect(judge(handOffs, [withHandOffs("1", 300, 15), withHandOffs("2", 60, 30)])?.reason).toMatch(/^hand-off rate of version 2 50\.0% /);
    expect(judge(handOffs, [withHandOffs("1", 300, 15), withHandOffs("2", 60, 4)])).toBeUndefined();
  });

  it("takes the largest weight as the baseline, the older version on a tie", () => {
    expect(baselineOf(create(RolloutSchema, { weights: parseWeights(["2=50", "1=50"]) }))).toBe("1");
    expect(baselineOf(create(RolloutSchema, { weights: parseWeights(["2=60", "1=40"]) }))).toBe("2");
  });
});
