import { describe, expect, it } from "vitest";
import { belongsToTask, firstTurnId, laterTurnId, parseTaskId, taskIdOf } from "./task-ids.js";

describe("A2A task ids", () => {
  it("name the session and the first turn, and read back", () => {
    const id = taskIdOf({ sessionId: "call:1.a", turnId: "m-1" });
    expect(id).toBe("call:1.a~m-1");
    expect(parseTaskId(id)).toEqual({ sessionId: "call:1.a", turnId: "m-1" });
  });

  it("refuse what is not a task id of ours", () => {
    expect(parseTaskId("no-separator")).toBeUndefined();
    expect(parseTaskId("~turn")).toBeUndefined();
    expect(parseTaskId("session~")).toBeUndefined();
    expect(parseTaskId("bad session~turn")).toBeUndefined();
  });

  it("take the message id as the first turn id when it is one, else a new id", () => {
    expect(firstTurnId("0b1e6c1e-58f4-4b53-8a51-a3c1b7d0e9f2")).toBe("0b1e6c1e-58f4-4b53-8a51-a3c1b7d0e9f2");
    const made = firstTurnId("has.dot");
    expect(made).not.toBe("has.dot");
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("join a task's later turns to its first", () => {
    const later = laterTurnId("m-1", "m-2");
    expect(later).toBe("m-1.m-2");
    expect(belongsToTask(later, "m-1")).toBe(true);
    expect(belongsToTask("m-1", "m-1")).toBe(true);
    expect(belongsToTask("m-10", "m-1")).toBe(false);
  });
});
