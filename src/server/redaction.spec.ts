import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, StepSchema } from "../gen/switchboard/v1/session_pb.js";
import { compilePatterns, luhn, presets, Redactor } from "./redaction.js";

describe("Redactor", () => {
  const card = presets["card"]!;

  it("finds card numbers typed with spaces or dashes, or spoken, that pass the Luhn check", () => {
    const r = new Redactor([card], []);
    expect(r.text("4111-1111-1111-1111")).toBe("[redacted:card]");
    expect(r.text("card 5500 0000 0000 0004 please")).toBe("card [redacted:card] please");
    expect(r.text("it is four one one one, one one one one, one one one one, one one one one ok")).toBe("it is [redacted:card] ok");
    expect(r.text("4111 1111 1111 1112")).toBe("4111 1111 1111 1112");
    expect(r.text("call 0800 123 456")).toBe("call 0800 123 456");
    expect(luhn("79927398713")).toBe(true);
    expect(luhn("79927398710")).toBe(false);
  });

  it("redacts secrets and configured keys at any depth, and errors", () => {
    const r = new Redactor(compilePatterns([{ name: "acct", regex: "ACC-\\d+" }]), ["accountId"]);
    const out = r.value({
      accountId: "acct-1",
      headers: { Authorization: "Bearer x", other: "ACC-123 here" },
      list: [{ password: "p" }],
      err: new Error("bad ACC-999"),
    }) as Record<string, unknown>;
    expect(out).toEqual({
      accountId: "[redacted]",
      headers: { Authorization: "[redacted]", other: "[redacted:acct] here" },
      list: [{ password: "[redacted]" }],
      err: expect.objectContaining({ type: "Error", message: "bad [redacted:acct]" }),
    });
  });

  it("redacts an audit-trail step's input, metadata, output, error and state patch", () => {
    const r = new Redactor([card], ["account_number"], true);
    const step = r.step(
      create(StepSchema, {
        input: { text: "pay with 4111 1111 1111 1111", metadata: { account_number: "12345678", channel: "voice" } },
        output: "charged 4111 1111 1111 1111",
        error: { code: "internal", message: "card 4111111111111111 declined" },
        statePatch: { account_number: "12345678", note: "4111 1111 1111 1111" },
      }),
    );
    expect(step.input?.text).toBe("pay with [redacted:card]");
    expect(step.input?.metadata).toEqual({ account_number: "[redacted]", channel: "voice" });
    expect(step.output).toBe("charged [redacted:card]");
    expect(step.error?.message).toBe("card [redacted:card] declined");
    expect(step.statePatch).toEqual({ account_number: "[redacted]", note: "[redacted:card]" });
  });

  it("copies a log object, session or turn result only when something in it is redacted", () => {
    const r = new Redactor([card], ["accountId"], true);
    const clean = { sessionId: "s1", turn: { agent: "echo", stages: ["a", "b"] } };
    expect(r.value(clean)).toBe(clean);
    const dirty = { sessionId: "s1", turn: { text: "4111 1111 1111 1111", stages: ["a"] }, accountId: "acct-1" };
    const out = r.value(dirty) as typeof dirty;
    expect(out).toEqual({ sessionId: "s1", turn: { text: "[redacted:card]", stages: ["a"] }, accountId: "[redacted]" });
    expect(out.turn.stages).toBe(dirty.turn.stages);
    expect(dirty.turn.text).toBe("4111 1111 1111 1111");

    const session = create(SessionSchema, { id: "s1", history: [{ text: "hello" }, { text: "You said: hello" }] });
    expect(r.session(session)).toBe(session);
    const result = create(SendTurnResponseSchema, { output: "You said: hello", session });
    expect(r.turnResult(result)).toBe(result);
    const paid = create(SendTurnResponseSchema, {
      output: "charged 4111 1111 1111 1111",
      session: { id: "s1", history: [{ text: "pay with 4111 1111 1111 1111" }] },
    });
    const redacted = r.turnResult(paid);
    expect(redacted.output).toBe("charged [redacted:card]");
    expect(redacted.session?.history[0]?.text).toBe("pay with [redacted:card]");
    expect(paid.session?.history[0]?.text).toBe("pay with 4111 1111 1111 1111");
  });

  it("refuses an unknown preset and a bad regex with the setting's name", () => {
    expect(() => compilePatterns(["iban"])).toThrow('redaction.patterns[0]: no preset "iban"');
    expect(() => compilePatterns([{ name: "x", regex: "(" }])).toThrow("redaction.patterns[0] (x)");
  });
});
