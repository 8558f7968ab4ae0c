import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { GetFlowStatsResponseSchema, GuardMetric } from "../gen/switchboard/v1/rollout_pb.js";
import { emptyCounts, versionStatsOf } from "../core/flow-stats.js";
import { UsageError } from "./command.js";
import { flowStatsTable } from "./flow-stats-view.js";
import { parseGuard, parseSince } from "./flows.js";

describe("flows command arguments", () => {
  it("reads windows and guards, and says what is wrong with others", () => {
    expect(parseSince("24h")).toBe(86_400_000);
    expect(parseSince("90s")).toBe(90_000);
    expect(parseSince("all")).toBe(0);
    expect(() => parseSince("yesterday")).toThrow(UsageError);
    expect(parseGuard("failed-turns:0.05:50")).toMatchObject({ metric: GuardMetric.FAILED_TURN_RATE, margin: 0.05, minSessions: 50 });
    expect(parseGuard("hand-off:0.1:20").metric).toBe(GuardMetric.HAND_OFF_RATE);
    expect(() => parseGuard("latency:1:2")).toThrow(/METRIC:MARGIN:MIN_SESSIONS/);
  });
});

describe("flowStatsTable", () => {
  it("puts versions side by side, newest first, with intervals and the difference", () => {
    const res = create(GetFlowStatsResponseSchema, {
      versions: [
        versionStatsOf({ ...emptyCounts("2"), started: 100, handedOff: 30, turns: 300 }),
        versionStatsOf({ ...emptyCounts("1"), started: 900, handedOff: 90, turns: 2700 }),
      ],
    });
    const lines = flowStatsTable(res).split("\n");
    expect(lines[0]).toMatch(/^\s+version 2\s+version 1\s+2 vs 1$/);
    expect(lines.find((l) => l.startsWith("hand-off"))).toMatch(/^hand-off\s+30\.0% \[21\.9%, 39\.6%\] 30\/100\s+10\.0% \[8\.2%, 12\.1%\] 90\/900\s+\+20\.0 pts \[\+11\.6, \+29\.8\] real$/);
    expect(flowStatsTable(create(GetFlowStatsResponseSchema, {}))).toBe("no sessions in the window\n");
  });
});
