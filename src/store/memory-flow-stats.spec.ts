import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { SessionSchema, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { countOutcomes } from "./memory-flow-stats.js";

const session = (id: string, version: string, status: SessionStatus, stages: string[], turns: number, createdMs: number, endedMs: number) =>
  create(SessionSchema, {
    id,
    flowId: "f",
    flowVersion: version,
    status,
    stage: stages[stages.length - 1] ?? "",
    stageVisits: Object.fromEntries(stages.map((s) => [s, 1])),
    tally: { turns, bargeIns: id === "a" ? 1 : 0 },
    createTime: timestampFromMs(createdMs),
    updateTime: timestampFromMs(endedMs),
  });

describe("countOutcomes", () => {
  it("counts starts, ends, hand-offs, containment, turns and the median duration per version", () => {
    const sessions = [
      { session: session("a", "1", SessionStatus.COMPLETED, ["talk"], 3, 1000, 4000), failedTurns: 0 },
      { session: session("b", "1", SessionStatus.WAITING, ["talk", "human"], 2, 1000, 2000), failedTurns: 1 },
      { session: session("c", "1", SessionStatus.COMPLETED, ["talk", "human", "end"], 4, 1000, 9000), failedTurns: 0 },
      { session: session("d", "2", SessionStatus.ACTIVE, ["talk"], 1, 1000, 1500), failedTurns: 2 },
      { session: session("old", "2", SessionStatus.COMPLETED, ["talk"], 1, 10, 20), failedTurns: 0 },
    ];
    const counts = countOutcomes(sessions, { flowId: "f", since: new Date(500), handOffStages: ["human"], containedStages: [] });
    expect(counts.find((c) => c.version === "1")).toEqual({
      version: "1",
      started: 3,
      completed: 2,
      failed: 0,
      handedOff: 2,
      contained: 1,
      turns: 9,
      failedTurns: 1,
      bargeIns: 1,
      medianDurationMs: 5500,
    });
    expect(counts.find((c) => c.version === "2")).toMatchObject({ started: 1, failedTurns: 2, medianDurationMs: undefined });
  });
});
