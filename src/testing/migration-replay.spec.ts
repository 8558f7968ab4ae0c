import { clone, create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MigrationSchema } from "../gen/switchboard/v1/flow_pb.js";
import { SessionSchema, SnapshotSchema, StepKind, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import type { SessionHistory } from "./case-record.js";
import { mappedHistory } from "./migration-replay.js";

const migration = create(MigrationSchema, {
  from: "1",
  stages: { approval: "supervisor_approval" },
  state: { rename: { refund_order: "order_ref" }, remove: ["scratch"], defaults: { approved: false } },
});

function history(): SessionHistory {
  const session = create(SessionSchema, { id: "s", flowId: "f", flowVersion: "1", stage: "approval", previousStage: "capture", version: 1n, state: { refund_order: "A-17", scratch: 1, amount: 250 } });
  return {
    session,
    steps: [create(StepSchema, { sessionId: "s", version: 1n, kind: StepKind.TURN, stage: "capture", nextStage: "approval", statePatch: { refund_order: "A-17", scratch: 1 } })],
    snapshots: [create(SnapshotSchema, { sessionId: "s", version: 1n, session, reason: "turn" })],
  };
}

describe("mappedHistory", () => {
  it("reads a recording in the terms of the version a migration leads to, leaving the recording as it was", () => {
    const h = history();
    const kept = { steps: h.steps.map((s) => clone(StepSchema, s)), snapshots: h.snapshots.map((s) => clone(SnapshotSchema, s)) };
    const mapped = mappedHistory(h, migration);
    expect(mapped.steps[0]).toMatchObject({ stage: "capture", nextStage: "supervisor_approval", statePatch: { order_ref: "A-17" } });
    expect(mapped.snapshots[0]?.session).toMatchObject({ stage: "supervisor_approval", previousStage: "capture", state: { order_ref: "A-17", amount: 250 } });
    // Defaults are what the move adds, not what the recorded turns did.
    expect(mapped.snapshots[0]?.session?.state).not.toHaveProperty("approved");
    expect(h.steps).toEqual(kept.steps);
    expect(h.snapshots).toEqual(kept.snapshots);
  });
});
