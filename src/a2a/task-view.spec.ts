import { create } from "@bufbuild/protobuf";
import { TaskState } from "@a2a-js/sdk";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { stateOfResult, taskOf } from "./task-view.js";

const session = (version: bigint, status: SessionStatus) => create(SessionSchema, { id: "s", version, status, waiting: { reason: "a supervisor", stage: "approval" } });
const result = (version: bigint, status: SessionStatus, interrupted = false) =>
  create(SendTurnResponseSchema, { sessionId: "s", turnId: "t", output: "ok", interrupted, session: session(version, status) });

describe("the A2A state of a committed turn", () => {
  it("is INPUT_REQUIRED while its wait is the session's latest, COMPLETED once something answered", () => {
    const waiting = result(3n, SessionStatus.WAITING);
    expect(stateOfResult(waiting, session(3n, SessionStatus.WAITING))).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(stateOfResult(waiting, session(4n, SessionStatus.ACTIVE))).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("is CANCELED after a barge-in, FAILED when the session failed, else COMPLETED", () => {
    expect(stateOfResult(result(2n, SessionStatus.ACTIVE, true), undefined)).toBe(TaskState.TASK_STATE_CANCELED);
    expect(stateOfResult(result(2n, SessionStatus.FAILED), undefined)).toBe(TaskState.TASK_STATE_FAILED);
    expect(stateOfResult(result(2n, SessionStatus.COMPLETED), undefined)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("says what an INPUT_REQUIRED task waits for, and a FAILED one why", () => {
    const waiting = taskOf({ sessionId: "s", turnId: "t" }, "t", { kind: "result", result: result(3n, SessionStatus.WAITING), current: undefined });
    expect(waiting.id).toBe("s~t");
    expect(waiting.status?.message?.parts[0]?.content).toEqual({ $case: "text", value: "a supervisor" });
    const failed = taskOf({ sessionId: "s", turnId: "t" }, "t.2", { kind: "failed", code: "Unavailable", message: "no instance" });
    expect(failed.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(failed.status?.message?.metadata).toEqual({ "switchboard.code": "Unavailable" });
    expect(failed.metadata?.["switchboard.turn_id"]).toBe("t.2");
  });
});
