import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type SessionEvent, SessionEventSchema } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { applyEvent, emptyTranscript, rewindTo, splitHeard, type Transcript } from "./live-transcript.js";

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

describe("rewindTo", () => {
  const turn = (turnId: string, seq: number, kind: Parameters<typeof ev>[1]): SessionEvent => ({ ...ev(seq, kind), turnId });
  const t = run([
    turn("t1", 1, { case: "accepted", value: { stage: "chat", agent: "a" } }),
    turn("t1", 6, { case: "output", value: { text: "hello", agent: "a" } }),
    turn("t1", 7, { case: "completed", value: {} }),
    turn("t2", 8, { case: "accepted", value: { stage: "chat", agent: "a" } }),
    turn("t2", 18, { case: "output", value: { text: "part one. ", agent: "a" } }),
  ]);

  it("drops the turns that began after the seq, and applies what comes after it again", () => {
    const back = rewindTo(t, 7n);
    expect(back.turns.map((x) => x.turnId)).toEqual(["t1"]);
    expect(back.lastSeq).toBe(7n);
    const next = applyEvent(back, turn("t3", 8, { case: "accepted", value: { stage: "chat", agent: "a" } }));
    expect(next.turns.map((x) => [x.turnId, x.firstSeq])).toEqual([
      ["t1", 1n],
      ["t3", 8n],
    ]);
  });

  it("changes nothing at or beyond the last seq applied", () => {
    expect(rewindTo(t, 18n)).toBe(t);
    expect(rewindTo(t, 30n)).toBe(t);
  });
});
