import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TurnAdmission } from "./turn-admission.js";

const loop = (delayMs: number) => ({ stalledSince: () => false, delayMs: () => delayMs });
const refusal = (admit: () => void) => {
  try {
    admit();
  } catch (e) {
    return ConnectError.from(e);
  }
  return undefined;
};

describe("TurnAdmission", () => {
  it("lets turns in up to the limit of turns in flight and refuses the next with a retry hint", () => {
    const a = new TurnAdmission({ maxTurnsInFlight: 2, maxLoopDelayMs: 0 }, loop(0));
    expect(refusal(() => a.admit(1))).toBeUndefined();
    expect(refusal(() => a.admit(2))).toBeUndefined();
    const err = refusal(() => a.admit(3));
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toMatch(/running 2 turns, its limit of turns in flight; running turns go on; retry in 1000ms/);
    expect(err?.metadata.get("retry-after")).toBe("1");
  });

  it("has no limit at 0", () => {
    const a = new TurnAdmission({ maxTurnsInFlight: 0, maxLoopDelayMs: 0 }, loop(10_000));
    expect(refusal(() => a.admit(1_000_000))).toBeUndefined();
  });

  it("refuses while the event loop runs later than its limit, with a hint that grows with the delay", () => {
    let delay = 100;
    const a = new TurnAdmission({ maxTurnsInFlight: 0, maxLoopDelayMs: 200 }, { stalledSince: () => false, delayMs: () => delay });
    expect(refusal(() => a.admit(1))).toBeUndefined();
    delay = 1500;
    const err = refusal(() => a.admit(1));
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toMatch(/event loop runs 1500ms late, above its limit of 200ms; running turns go on; retry in 3000ms/);
    expect(err?.metadata.get("retry-after")).toBe("3");
  });
});
