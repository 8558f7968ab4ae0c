import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema, SendTurnView, SessionEventSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { Role } from "../gen/switchboard/v1/turn_pb.js";
import { eventView, sendTurnView } from "./turn-view.js";

describe("sendTurnView", () => {
  const result = () =>
    create(SendTurnResponseSchema, {
      sessionId: "s1",
      output: "You said: hi",
      nextStage: "next",
      session: {
        id: "s1",
        version: 3n,
        stage: "next",
        status: SessionStatus.ACTIVE,
        state: { turns: 3 },
        history: [{ role: Role.USER, text: "hi" }, { role: Role.AGENT, agent: "echo", text: "You said: hi" }],
        completedStages: ["greeting", "next"],
        stageVisits: { next: 2 },
        compensations: [{ stage: "hold", agent: "booking" }],
        tally: { intents: ["hi"] },
        lastSeq: 9n,
      },
    });

  it("leaves the growing windows out of the session by default, and keeps the rest", () => {
    const full = result();
    for (const view of [SendTurnView.UNSPECIFIED, SendTurnView.BASIC]) {
      const basic = sendTurnView(full, view);
      expect(basic.output).toBe("You said: hi");
      expect(basic.session).toMatchObject({ id: "s1", version: 3n, stage: "next", status: SessionStatus.ACTIVE, state: { turns: 3 }, lastSeq: 9n });
      expect(basic.session?.history).toEqual([]);
      expect(basic.session?.completedStages).toEqual([]);
      expect(basic.session?.stageVisits).toEqual({});
      expect(basic.session?.compensations).toEqual([]);
      expect(basic.session?.tally).toBeUndefined();
      expect(toBinary(SendTurnResponseSchema, basic).length).toBeLessThan(toBinary(SendTurnResponseSchema, full).length);
    }
  });

  it("returns the whole result for the full view, and never changes the result it was given", () => {
    const full = result();
    expect(sendTurnView(full, SendTurnView.FULL)).toBe(full);
    sendTurnView(full, SendTurnView.BASIC);
    expect(full.session?.history).toHaveLength(2);
    expect(full.session?.tally?.intents).toEqual(["hi"]);
  });

  it("gives a Converse stream's completed and interrupted events their result in the stream's view, other events as they are", () => {
    const full = result();
    const completed = create(SessionEventSchema, { seq: 5n, turnId: "t1", kind: { case: "completed", value: { result: full } } });
    const basic = eventView(completed, SendTurnView.UNSPECIFIED);
    expect(basic.seq).toBe(5n);
    expect(basic.kind.case === "completed" && basic.kind.value.result?.session?.history).toEqual([]);
    expect(basic.kind.case === "completed" && basic.kind.value.result?.session?.version).toBe(3n);
    expect(completed.kind.case === "completed" && completed.kind.value.result).toBe(full);
    expect(eventView(completed, SendTurnView.FULL)).toBe(completed);
    const interrupted = create(SessionEventSchema, { kind: { case: "interrupted", value: { heard: "You", result: full } } });
    const cut = eventView(interrupted, SendTurnView.BASIC);
    expect(cut.kind.case === "interrupted" && cut.kind.value.heard).toBe("You");
    expect(cut.kind.case === "interrupted" && cut.kind.value.result?.session?.completedStages).toEqual([]);
    const output = create(SessionEventSchema, { kind: { case: "output", value: { text: "hi" } } });
    expect(eventView(output, SendTurnView.BASIC)).toBe(output);
  });
});
