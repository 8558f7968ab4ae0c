import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { StageSchema } from "../gen/switchboard/v1/flow_pb.js";
import { SessionSchema, StepKind, StepSchema, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Role, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { amendHeard, heardPart, interruptTurn } from "./interruption.js";

const now = new Date("2030-01-01T00:00:00Z");

describe("heardPart", () => {
  it("takes the first characters heard, all of it when unsaid, nothing at 0 ms", () => {
    expect(heardPart("Hello there", { chars: 5 })).toBe("Hello");
    expect(heardPart("Hello there", { chars: 99 })).toBe("Hello there");
    expect(heardPart("a😀b", { chars: 2 })).toBe("a😀");
    expect(heardPart("Hello there", {})).toBe("Hello there");
    expect(heardPart("Hello there", { ms: 1200 })).toBe("Hello there");
    expect(heardPart("Hello there", { ms: 0 })).toBe("");
    expect(heardPart("Hello there", { chars: 0, ms: 800 })).toBe("");
  });
});

describe("interruptTurn", () => {
  const session = create(SessionSchema, { id: "s", version: 3n, stage: "triage" });
  const facts = { turnId: "t9", version: 4n, input: create(TurnInputSchema, { text: "wait" }), startedAt: now, now, ttlMs: 60_000 };
  const plan = (name: string, agent: string) => ({ stage: create(StageSchema, { name }), agent, intent: "", explicit: false, handoffFrom: "" });

  it("records the cancelled reply as heard, marks it interrupted, and leaves the stage alone", () => {
    const cut = interruptTurn(session, [], { plan: plan("triage", "triager"), streamed: "Let me check that for you" }, { ...facts, heard: { chars: 6, ms: 450 } });
    expect(cut.heard).toBe("Let me");
    expect(cut.session.version).toBe(4n);
    expect(cut.session.stage).toBe("triage");
    expect(cut.session.history.map((e) => [e.role, e.text, e.interrupted, e.heardMs])).toEqual([
      [Role.USER, "wait", false, 0],
      [Role.AGENT, "Let me", true, 450],
    ]);
    expect(cut.steps).toHaveLength(1);
    expect(cut.steps[0]).toMatchObject({ kind: StepKind.TURN, status: StepStatus.INTERRUPTED, output: "Let me", version: 4n, agent: "triager" });
    expect(cut.steps[0]?.details).toMatchObject({ heard_chars: "6", heard_ms: "450" });
  });

  it("spreads what was heard over the calls of a chained turn", () => {
    const after = create(SessionSchema, {
      id: "s",
      version: 3n,
      stage: "closing",
      history: [
        { role: Role.USER, text: "wait", turnId: "t9", stage: "triage" },
        { role: Role.AGENT, text: "Refund approved.", agent: "refunds", turnId: "t9", stage: "triage" },
      ],
    });
    const done = [{ step: create(StepSchema, { turnId: "t9", stage: "triage", agent: "refunds", status: StepStatus.OK, output: "Refund approved." }), streamed: "Refund approved." }];
    const cut = interruptTurn(after, done, { plan: plan("closing", "closer"), streamed: " Anything else?" }, { ...facts, heard: { chars: 8 } });
    expect(cut.heard).toBe("Refund a");
    expect(cut.session.stage).toBe("closing");
    expect(cut.steps.map((s) => [s.status, s.output])).toEqual([
      [StepStatus.INTERRUPTED, "Refund a"],
      [StepStatus.INTERRUPTED, ""],
    ]);
    expect(cut.session.history.map((e) => [e.text, e.interrupted])).toEqual([
      ["wait", false],
      ["Refund a", true],
      ["", true],
    ]);
  });
});

describe("amendHeard", () => {
  const session = create(SessionSchema, {
    id: "s",
    version: 5n,
    stage: "chat",
    history: [
      { role: Role.USER, text: "one", turnId: "t1" },
      { role: Role.AGENT, text: "first reply", agent: "a", turnId: "t1" },
      { role: Role.USER, text: "two", turnId: "t2" },
      { role: Role.AGENT, text: "second reply", agent: "a", turnId: "t2", stage: "chat" },
    ],
  });

  it("cuts the latest reply to what was heard, in a new version", () => {
    const out = amendHeard(session, { turnId: "t2", heard: { chars: 6 }, now, ttlMs: 1000 });
    expect(out.kind).toBe("amended");
    if (out.kind !== "amended") return;
    expect(out.session.version).toBe(6n);
    expect(out.session.history[3]).toMatchObject({ text: "second", interrupted: true });
    expect(out.step).toMatchObject({ kind: StepKind.INTERRUPTION, status: StepStatus.INTERRUPTED, output: "second", turnId: "t2", version: 6n });
    expect(amendHeard(session, { turnId: "", heard: { chars: 1 }, now, ttlMs: 1000 }).kind).toBe("amended");
  });

  it("refuses an older turn, and leaves a reply heard in full or already cut", () => {
    expect(amendHeard(session, { turnId: "t1", heard: { chars: 1 }, now, ttlMs: 1000 })).toEqual({ kind: "not-latest", latest: "t2" });
    expect(amendHeard(session, { turnId: "t2", heard: { chars: 50 }, now, ttlMs: 1000 }).kind).toBe("unchanged");
    const cut = amendHeard(session, { turnId: "t2", heard: { chars: 3 }, now, ttlMs: 1000 });
    if (cut.kind !== "amended") throw new Error("expected an amendment");
    expect(amendHeard(cut.session, { turnId: "t2", heard: { chars: 1 }, now, ttlMs: 1000 }).kind).toBe("unchanged");
  });
});
