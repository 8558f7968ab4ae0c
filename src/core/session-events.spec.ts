import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import {
  addOutput,
  codePoints,
  type HopLog,
  hopDetails,
  hopEvents,
  hopOfStep,
  newHop,
  outputWeight,
  prefixCodePoints,
} from "./session-events.js";
import { storedEvents, storedPosition } from "./stored-history.js";

const ids = { sessionId: "s", turnId: "t" };

/** publish lays chunks out as the hub does and returns the hop and each chunk's seq. */
function publish(start: bigint, chunks: string[]): { hop: HopLog; seqs: bigint[] } {
  const hop = newHop("stage", "agent", start);
  let last = start;
  const seqs: bigint[] = [];
  for (const text of chunks) {
    last += BigInt(outputWeight(text));
    addOutput(hop, text, last);
    seqs.push(last);
  }
  return { hop, seqs };
}

/** seenBy is the text a client has once it saw everything up to `k`. */
function seenBy(chunks: string[], seqs: bigint[], k: bigint): string {
  let out = "";
  chunks.forEach((text, i) => {
    const seq = seqs[i] as bigint;
    const start = seq - BigInt(outputWeight(text));
    if (seq <= k) out += text;
    else if (start < k && text !== "") out += prefixCodePoints(text, Number(k - start));
  });
  return out;
}

describe("code points", () => {
  it("counts and cuts by code point, keeping surrogate pairs whole", () => {
    expect(codePoints("héllo")).toBe(5);
    expect(codePoints("a😀b")).toBe(3);
    expect(prefixCodePoints("a😀b", 2)).toBe("a😀");
    expect(prefixCodePoints("a😀b", 0)).toBe("");
    expect(prefixCodePoints("ab", 9)).toBe("ab");
  });
});

describe("hop events", () => {
  const chunks = ["Hel", "lo", "", "", " wörld ", "😀", "", "!"];

  it("rebuilds, after any seq, exactly the text the client has not seen", () => {
    const { hop, seqs } = publish(100n, chunks);
    const full = chunks.join("");
    for (let k = 99n; k <= hop.outputEnd + 1n; k++) {
      const events = hopEvents(hop, ids, k, hop.outputEnd);
      const rebuilt = events.filter((e) => e.kind.case === "output").map((e) => (e.kind.case === "output" ? e.kind.value.text : ""));
      expect(seenBy(chunks, seqs, k) + rebuilt.join(""), `after ${k}`).toBe(full);
      expect(events.every((e) => e.seq > k)).toBe(true);
      expect(events.some((e) => e.kind.case === "accepted")).toBe(k < 100n);
    }
  });

  it("stops at upTo, cutting the reply where the window takes over", () => {
    const { hop, seqs } = publish(0n, chunks);
    const cut = seqs[4] as bigint;
    const events = hopEvents(hop, ids, 0n, cut);
    const last = events[events.length - 1];
    expect(last?.seq).toBe(cut);
    expect(last?.kind.case === "output" && last.kind.value.text).toBe("Hello wörld ");
  });

  it("survives the round trip through a step's details", () => {
    const { hop } = publish(7n, chunks);
    hop.transition = { seq: hop.outputEnd + 1n, from: "stage", to: "next" };
    const step = create(StepSchema, {
      stage: "stage",
      agent: "agent",
      nextStage: "next",
      output: chunks.join(""),
      details: hopDetails(hop, hop.outputEnd + 2n),
    });
    expect(step.details["seq_textless"]).toBe("6*2,16");
    expect(hopOfStep(step)).toEqual(hop);
  });
});

describe("stored events", () => {
  it("rebuilds completed, failed and amended turns from the audit trail and finds the last seq", async () => {
    const store = new MemoryStore();
    const session = (version: bigint) => create(SessionSchema, { id: "s", version, stage: "chat" });
    const { hop } = publish(1n, ["Hi ", "there"]);
    await store.commit({
      session: session(1n),
      expectedVersion: 0n,
      reason: "turn",
      steps: [create(StepSchema, { turnId: "t1", kind: StepKind.TURN, status: StepStatus.OK, stage: "greeting", agent: "a", output: "Hi there", details: hopDetails(hop, 10n) })],
      turn: { turnId: "t1", result: create(SendTurnResponseSchema, {}) },
    });
    await store.recordFailure(
      create(StepSchema, { sessionId: "s", turnId: "t2", status: StepStatus.FAILED, error: { code: "unavailable", message: "down" }, details: hopDetails(undefined, 11n) }),
    );
    await store.commit({
      session: session(2n),
      expectedVersion: 1n,
      reason: "interruption",
      steps: [create(StepSchema, { turnId: "t1", kind: StepKind.INTERRUPTION, status: StepStatus.INTERRUPTED, output: "Hi", details: { ...hopDetails(undefined, 12n), heard_ms: "300" } })],
    });
    const all = [];
    for await (const e of storedEvents(store, "s", 0n, 100n)) all.push(e);
    expect(all.map((e) => `${e.seq}:${e.turnId}:${e.kind.case}`)).toEqual([
      "1:t1:accepted",
      "9:t1:output",
      "10:t1:completed",
      "11:t2:failed",
      "12:t1:interrupted",
    ]);
    const amended = all[4];
    expect(amended?.kind.case === "interrupted" && amended.kind.value).toMatchObject({ heard: "Hi", heardMs: 300, afterCompletion: true });
    expect(await storedPosition(store, "s")).toEqual({ lastSeq: 12n, version: 2n });
    const after = [];
    for await (const e of storedEvents(store, "s", 4n, 11n)) after.push(e);
    expect(after.map((e) => [e.seq, e.kind.case === "output" ? e.kind.value.text : e.kind.case])).toEqual([
      [9n, "there"],
      [10n, "completed"],
      [11n, "failed"],
    ]);
  });
});
