import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type SessionEvent, SessionEventSchema } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { applyEvent, emptyTranscript, splitHeard, type Transcript } from "./live-transcript.js";

const ev = (seq: number, kind: NonNullable<MessageInitShape<typeof SessionEventSchema>["kind"]>): SessionEvent => create(SessionEventSchema, { seq: BigInt(seq), sessionId: "s", turnId: "t1", kind });
const run = (events: SessionEvent[]): Transcript => events.reduce(applyEvent, emptyTranscript);

describe("applyEvent", () => {
  it("builds a turn's reply chunk by chunk, by agent, with its stage moves", () => {
    const t = run([
      ev(1, { case: "accepted", value: { stage: "greeting", agent: "a" } }),
      ev(6, { case: "output", value: { text: "hello", agent: "a" } }),
      ev(7, { case: "transition", value: { from: "greeting", to: "chat" } }),
      ev(12, { case: "output", value: { text: " world", agent: "b" } }),
    ]);
    expect(t.turns).toHaveLength(1);
    expect(t.turns[0]).toMatchObject({ text: "hello world", state: "running", agent: "b", transitions: [{ from: "greeting", to: "chat" }] });
    expect(t.turns[0]?.parts).toEqual([
      { agent: "a", text: "hello" },
      { agent: "b", text: " world" },
    ]);
    expect(t.lastSeq).toBe(12n);
  });

  it("ignores an event it has applied already (a resumed stream)", () => {
    const once = run([ev(5, { case: "output", value: { text: "hi", agent: "a" } })]);
    expect(applyEvent(once, ev(5, { case: "output", value: { text: "hi", agent: "a" } }))).toBe(once);
  });

  it("marks where a barge-in cut the reply, in code points", () => {
    const t = run([
      ev(9, { case: "output", value: { text: "héllo wörld", agent: "a" } }),
      ev(10, { case: "interrupted", value: { heard: "héllo" } }),
    ]);
    expect(t.turns[0]).toMatchObject({ state: "interrupted", heardChars: 5, text: "héllo wörld" });
    expect(splitHeard("héllo wörld", 5)).toEqual(["héllo", " wörld"]);
  });

  it("takes a replayed turn's reply from its result", () => {
    const t = run([ev(3, { case: "completed", value: { result: { output: "stored reply", agent: "a" } } })]);
    expect(t.turns[0]).toMatchObject({ state: "completed", text: "stored reply", agent: "a" });
  });
});
