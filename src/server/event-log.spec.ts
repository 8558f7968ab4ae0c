import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OutputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import { SendTurnResponseSchema, type SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import { StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { EventLog } from "./event-log.js";

const text = (t: string) => create(OutputDeltaSchema, { text: t });
const done = { case: "completed", value: { result: create(SendTurnResponseSchema, {}) } } as const;
const describeEvents = (events: SessionEvent[]) =>
  events.map((e) => `${e.seq}:${e.turnId}:${e.kind.case}${e.kind.case === "output" ? `(${e.kind.value.text})` : ""}`);

/** log returns an event log that counts the bytes it reports. */
function log(windowBytes = 1 << 20) {
  const held = { bytes: 0 };
  return { log: new EventLog("s", windowBytes, (d) => (held.bytes += d)), held };
}

describe("EventLog", () => {
  it("numbers events in order, an output by its text's code points, and says where each step's events stand", () => {
    const { log: l } = log();
    const turn = l.beginTurn("t1");
    expect(l.accepted(turn, "greeting", "echo").event.seq).toBe(1n);
    expect(l.output(turn, text("Hi 😀"), "echo")?.event.seq).toBe(5n);
    expect(l.output(turn, text(""), "echo")).toBeUndefined();
    expect(l.transition(turn, "greeting", "talk")?.event.seq).toBe(6n);
    const step = create(StepSchema, { status: StepStatus.OK });
    expect(l.stepDetails(turn, [step])).toEqual([{ seq_accepted: "1", seq_output_end: "5", seq_transition: "6", seq_end: "7" }]);
    expect(l.end(turn, done).event.seq).toBe(7n);
    expect(l.lastSeq).toBe(7n);
    expect(describeEvents(l.eventsAfter(0n))).toEqual(["1:t1:accepted", "5:t1:output(Hi 😀)", "6:t1:transition", "7:t1:completed"]);
    expect(describeEvents(l.eventsAfter(5n))).toEqual(["6:t1:transition", "7:t1:completed"]);
  });

  it("stores only the end with a failed step: its partial output was never committed", () => {
    const { log: l } = log();
    const turn = l.beginTurn("t1");
    l.accepted(turn, "greeting", "echo");
    l.output(turn, text("par"), "echo");
    const failed = create(StepSchema, { status: StepStatus.FAILED });
    expect(l.stepDetails(turn, [failed])).toEqual([{ seq_end: "5" }]);
    expect(l.stepDetails(undefined, [failed, failed])).toEqual([{}, { seq_end: "5" }]);
  });

  it("trims finished turns past its window, and rebuilds a running turn's trimmed beginning from its hops", () => {
    const { log: l, held } = log(400);
    const first = l.beginTurn("t1");
    l.accepted(first, "a", "echo");
    l.end(first, done);
    const running = l.beginTurn("t2");
    l.accepted(running, "a", "echo");
    for (const chunk of ["one ", "two ", "three ", "four "]) l.output(running, text(chunk), "echo");
    // The finished turn went first; then the running turn's oldest events.
    expect(l.floor).toBe(2n);
    expect(held.bytes).toBeLessThanOrEqual(400);
    const after = l.eventsAfter(2n);
    expect(after[0]?.kind.case).toBe("accepted");
    const replayed = after.filter((e) => e.kind.case === "output").map((e) => (e.kind.case === "output" ? e.kind.value.text : ""));
    expect(replayed.join("")).toBe("one two three four ");
    expect(after.at(-1)?.seq).toBe(l.lastSeq);
  });

  it("publishes a one-event turn before the running turn, keeping seq order", () => {
    const { log: l } = log();
    const running = l.beginTurn("t2");
    const alone = l.beginTurn("t1", running);
    l.end(alone, done);
    l.accepted(running, "a", "echo");
    expect(describeEvents(l.eventsAfter(0n))).toEqual(["1:t1:completed", "2:t2:accepted"]);
  });

  it("lets go of its window, keeping the running turn, and reports the bytes it frees", () => {
    const { log: l, held } = log();
    const first = l.beginTurn("t1");
    l.accepted(first, "a", "echo");
    l.end(first, done);
    const running = l.beginTurn("t2");
    l.accepted(running, "a", "echo");
    l.dropWindow(running);
    expect(l.floor).toBe(2n);
    expect(describeEvents(l.eventsAfter(2n))).toEqual(["3:t2:accepted"]);
    l.dropWindow(undefined);
    expect(held.bytes).toBe(0);
    expect(l.floor).toBe(l.lastSeq);
  });
});
