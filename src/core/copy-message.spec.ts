import { clone, create, equals, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ConverseInputSchema, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, SessionStatus, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import { Role } from "../gen/switchboard/v1/turn_pb.js";
import { copyMessage } from "./copy-message.js";

describe("copyMessage", () => {
  const session = () =>
    create(SessionSchema, {
      id: "s1",
      version: 7n,
      stage: "support",
      status: SessionStatus.WAITING,
      state: { turns: 3, nested: { list: [1, "two", null, { deep: true }] }, none: null },
      history: [{ role: Role.USER, text: "héllo ✓", turnId: "t1" }, { role: Role.AGENT, text: "hi", agent: "echo", interrupted: true }],
      completedStages: ["greeting"],
      stageVisits: { support: 2 },
      waiting: { reason: "approval" },
      createTime: timestampFromMs(1_700_000_000_123),
      tally: { intents: ["a"], stageDurations: { support: { seconds: 3n, nanos: 5 } } },
      lastSeq: 42n,
    });

  it("copies a message exactly as clone does: equal, and the same bytes", () => {
    const s = session();
    const copy = copyMessage(SessionSchema, s);
    expect(copy).toEqual(clone(SessionSchema, s));
    expect(equals(SessionSchema, copy, s)).toBe(true);
    expect(toBinary(SessionSchema, copy)).toEqual(toBinary(SessionSchema, s));
    const step = create(StepSchema, { sessionId: "s1", input: { text: "x", metadata: { k: "v" }, event: { type: "e", data: { a: [1] } } } });
    expect(equals(StepSchema, copyMessage(StepSchema, step), step)).toBe(true);
    const input = create(ConverseInputSchema, { text: "x", audio: new Uint8Array([1, 2, 3]) });
    const inputCopy = copyMessage(ConverseInputSchema, input);
    expect(equals(ConverseInputSchema, inputCopy, input)).toBe(true);
    expect(inputCopy.audio).not.toBe(input.audio);
    const result = create(SendTurnResponseSchema, { output: "o", session: s });
    expect(equals(SendTurnResponseSchema, copyMessage(SendTurnResponseSchema, result), result)).toBe(true);
  });

  it("shares nothing with the original", () => {
    const s = session();
    const copy = copyMessage(SessionSchema, s);
    copy.history[0]!.text = "changed";
    copy.history.push(create(SessionSchema).history[0] ?? copy.history[1]!);
    (copy.state!["nested"] as { list: unknown[] }).list.push(5);
    copy.stageVisits["support"] = 9;
    copy.tally!.stageDurations["support"]!.seconds = 99n;
    copy.waiting!.reason = "other";
    expect(equals(SessionSchema, s, session())).toBe(true);
  });
});
