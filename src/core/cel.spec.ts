import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionSchema, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, AgentResultSchema, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { compileCel } from "./cel.js";
import { celVars } from "./cel-vars.js";

const session = create(SessionSchema, {
  id: "s1",
  accountId: "acct-9",
  flowId: "cc",
  flowVersion: "2",
  stage: "fulfilment",
  status: SessionStatus.WAITING,
  version: 7n,
  intent: "refund",
  state: { amount: 250, verified: true, tags: ["vip"] },
  stageVisits: { authentication: 2 },
});
const input = create(TurnInputSchema, {
  text: "go ahead",
  event: { type: "approval.granted", data: { by: "sam" } },
  metadata: { permissions: "refunds.approve, refunds.view", channel: "voice" },
});
const result = create(AgentResultSchema, { text: "ok", intent: "refund", statePatch: { refund_id: "R1" }, next: { action: Action.WAIT } });
const vars = celVars(session, input, result, { billing: { status: "failed", text: "", error: "unavailable: down" } });

const evaluate = (expr: string, context: Parameters<typeof compileCel>[1] = "transition") => {
  const compiled = compileCel(expr, context);
  expect(compiled.problems).toEqual([]);
  return compiled.program?.evaluate(vars);
};

describe("compileCel", () => {
  it("evaluates over state, input, result, session and permissions with proto field names", () => {
    expect(evaluate("state.amount > 100 && state.verified")).toBe(true);
    expect(evaluate("'vip' in state.tags")).toBe(true);
    expect(evaluate("input.event.type == 'approval.granted' && input.event.data.by == 'sam'")).toBe(true);
    expect(evaluate("input.metadata.channel == 'voice'")).toBe(true);
    expect(evaluate("result.next.action == 'wait' && result.state_patch.refund_id == 'R1'")).toBe(true);
    expect(evaluate("session.status == 'waiting' && session.version == 7 && session.account_id == 'acct-9'")).toBe(true);
    expect(evaluate("session.stage_visits.authentication >= 2 && session.intent == 'refund'")).toBe(true);
    expect(evaluate("'refunds.approve' in permissions && !('admin' in permissions)")).toBe(true);
    expect(evaluate("result.branches.billing.status == 'failed'")).toBe(true);
    expect(evaluate("input.text.lowerAscii().contains('ahead')")).toBe(true);
    expect(evaluate("state.amount <= 100")).toBe(false);
  });

  it("reports a syntax error with its column", () => {
    expect(compileCel("state.amount >", "transition").problems).toEqual([
      expect.stringMatching(/^does not compile: at 1:\d+: /),
    ]);
  });

  it("reports unknown variables and fields, naming what exists", () => {
    expect(compileCel("stat.amount > 1", "transition").problems).toEqual([
      "unknown variable stat (use state, input, result, session, permissions)",
    ]);
    expect(compileCel("input.txt == 'x' || session.stagee == 'y'", "transition").problems).toEqual([
      "unknown field input.txt (input has text, intent, event, metadata)",
      expect.stringMatching(/^unknown field session.stagee \(session has id, account_id, /),
    ]);
    expect(compileCel("result.next.actoin == 'end'", "transition").problems).toEqual([
      "unknown field result.next.actoin (result.next has action, target_stage, target_agent, reason)",
    ]);
  });

  it("checks state keys against the flow's state_keys when it declares them", () => {
    expect(compileCel("has(state.amount) && state.amonut > 1", "transition", { stateKeys: ["amount"] }).problems).toEqual([
      "unknown field state.amonut: the flow's state_keys are amount",
    ]);
    expect(compileCel("state.anything == 1", "transition").problems).toEqual([]);
  });

  it("refuses variables a context cannot see: no result before the agent ran", () => {
    expect(compileCel("result.text != ''", "precondition").problems).toEqual([
      "preconditions cannot read result (they can read state, input, session, permissions)",
    ]);
    expect(compileCel("result.text != ''", "postcondition").problems).toEqual([]);
  });

  it("reports unknown functions, and accepts macro variables", () => {
    expect(compileCel("frobnicate(state.x)", "invariant").problems).toEqual(["unknown function frobnicate"]);
    expect(compileCel("state.tags.all(t, t != '') && state.tags.exists(t, t == 'vip')", "invariant").problems).toEqual([]);
  });

  it("returns an error, not a value, for a missing key or a non-bool result", () => {
    const missing = compileCel("state.nope > 1", "transition").program?.evaluate(vars);
    expect(missing).toBeInstanceOf(Error);
    expect(String(missing)).toMatch(/nope/);
    const notBool = compileCel("state.amount + 1.0", "transition").program?.evaluate(vars);
    expect(String(notBool)).toBe("Error: evaluated to the double 251, not a bool");
  });
});
