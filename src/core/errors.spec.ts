import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { agentCallFactsOf, codeName, hasMark, invalidArgument, mark, withAgentCallFacts } from "./errors.js";

describe("error marks", () => {
  it("mark returns the same error, carrying every mark given", () => {
    const err = new ConnectError("agent a is unavailable", Code.Unavailable);
    expect(mark(err, "retryable", "unroutable")).toBe(err);
    expect(hasMark(err, "retryable")).toBe(true);
    expect(hasMark(err, "unroutable")).toBe(true);
    expect(hasMark(err, "store")).toBe(false);
    expect(hasMark(err, "stage-failure")).toBe(false);
  });

  it("marks add up across calls", () => {
    const err = mark(new ConnectError("x", Code.Internal), "store");
    mark(err, "stage-failure");
    expect(hasMark(err, "store")).toBe(true);
    expect(hasMark(err, "stage-failure")).toBe(true);
  });

  it("an unmarked error and anything that is not a ConnectError carry no mark", () => {
    expect(hasMark(new ConnectError("x", Code.Unavailable), "retryable")).toBe(false);
    expect(hasMark(new Error("x"), "retryable")).toBe(false);
    expect(hasMark(undefined, "store")).toBe(false);
    expect(hasMark("retryable", "retryable")).toBe(false);
  });

  it("marks belong to one error: an error wrapping a marked one does not inherit them", () => {
    const marked = mark(new ConnectError("x", Code.Unavailable), "retryable");
    const other = new ConnectError(marked.rawMessage, marked.code, undefined, undefined, marked);
    expect(hasMark(other, "retryable")).toBe(false);
    expect(ConnectError.from(marked)).toBe(marked);
  });

  it("marks stay inside the process: they add no string key to the error", () => {
    const err = mark(invalidArgument("state", "too large"), "store");
    expect(Object.keys(err)).toEqual(Object.keys(invalidArgument("state", "too large")));
    expect(JSON.stringify(err)).not.toContain("store");
  });
});

describe("agent call facts", () => {
  const facts = { agent: "a", instance: "http://a1", attempts: 2, latencyMs: 12, breaker: "closed", output: "partial" };

  it("travel with the error and live beside its marks", () => {
    const err = withAgentCallFacts(mark(new ConnectError("x", Code.Unavailable), "unroutable"), facts);
    expect(agentCallFactsOf(err)).toEqual(facts);
    expect(hasMark(err, "unroutable")).toBe(true);
  });

  it("are absent from an error that has none", () => {
    expect(agentCallFactsOf(new ConnectError("x", Code.Unavailable))).toBeUndefined();
    expect(agentCallFactsOf(mark(new ConnectError("x", Code.Unavailable), "retryable"))).toBeUndefined();
    expect(agentCallFactsOf(new Error("x"))).toBeUndefined();
  });
});

describe("codeName", () => {
  it("spells a code in lower_snake_case", () => {
    expect(codeName(Code.FailedPrecondition)).toBe("failed_precondition");
    expect(codeName(Code.Unavailable)).toBe("unavailable");
  });
});
