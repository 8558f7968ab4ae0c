import { clone, equals, toJson } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { FlowBuildError, FlowBuilder } from "./flow-builder.js";
import { parseFlowFile } from "./flow-file.js";

const domains = { refund: "refund", billing: "billing", booking: "booking", complaint: "complaint", account: "account", balance: "balance" };

function withoutDescriptions(flow: Flow): Flow {
  const f = clone(FlowSchema, flow);
  f.description = "";
  for (const s of f.stages) s.description = "";
  return f;
}

describe("FlowBuilder", () => {
  it("builds the same Flow message as the reference YAML file", () => {
    const f = new FlowBuilder("contact-centre", "1").initial("greeting").maxChain(6).stateKeys("verified", "refund_amount", "approved");
    f.outcomes(["human_queue"], ["closing"]);
    f.invariant(
      "refund_within_phone_limit",
      "!has(state.refund_amount) || state.refund_amount <= 5000",
      "refunds above 5000.00 cannot be handled on a call; refer the caller to the claims team",
    );
    f.stage("greeting").agent("greeting").to("authentication");
    f.stage("authentication")
      .agent("auth")
      .allow("verify_identity")
      .timeout(5000)
      .retry(3, 50, 500)
      .maxVisits(3, "human_queue")
      .compensate("revoke_token")
      .to("lookup", "has(state.verified) && state.verified")
      .to("authentication");
    f.stage("lookup")
      .parallel({ account: "account", balance: "balance", billing: "billing" }, { join: 2, branchTimeoutMs: 2000, merge: "by_branch" })
      .to("intent_capture");
    f.stage("intent_capture")
      .agent("triage")
      .route(domains)
      .fallback("fallback")
      .compensate("undo")
      .to("approval", 'session.intent == "refund" && state.refund_amount > 100.0')
      .to("fulfilment", 'session.intent in ["refund", "billing", "booking", "complaint", "account", "balance"]')
      .to("intent_capture");
    f.stage("approval")
      .waitFor("supervisor approval for a refund above 100.00")
      .agent("approval")
      .allow("approve", "reject")
      .onEvent("approval.granted", "approve")
      .onEvent("approval.denied", "reject")
      .precondition("supervisor_only", "'refunds.approve' in permissions", "only a supervisor (permission refunds.approve) can act on a refund waiting for approval")
      .to("fulfilment", "has(state.approved) && state.approved")
      .to("closing");
    f.stage("fulfilment")
      .route({ ...domains, payment_succeeded: "booking", payment_failed: "booking" })
      .fallback("fallback")
      .onEvent("payment.succeeded", "payment_succeeded")
      .onEvent("payment.failed", "payment_failed")
      .precondition(
        "refund_approved",
        'session.intent != "refund" || state.refund_amount <= 100.0 || (has(state.approved) && state.approved)',
        "a refund above 100.00 needs a supervisor's approval first",
      )
      .onFailure({ compensate: true, to: "closing" })
      .to("closing");
    f.stage("human_queue").waitFor("a colleague takes over after three failed security checks").agent("human-desk").to("closing");
    f.stage("closing").agent("closing").terminal();
    const built = f.build();

    const file = parseFlowFile(readFileSync("flows/contact-centre.yaml", "utf8"), "flows/contact-centre.yaml");
    expect(file.problems).toEqual([]);
    const fromFile = withoutDescriptions(file.flow as Flow);
    expect(toJson(FlowSchema, built)).toEqual(toJson(FlowSchema, fromFile));
    expect(equals(FlowSchema, built, fromFile)).toBe(true);
  });

  it("refuses to build an invalid flow, listing every problem", () => {
    const f = new FlowBuilder("bad", "1");
    f.stage("a").agent("x").to("nowhere", "state.n >");
    f.stage("b");
    let error: unknown;
    try {
      f.build((a) => a === "y");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlowBuildError);
    expect((error as FlowBuildError).problems).toEqual([
      'stage a: unknown agent "x"',
      'stage a: transition to unknown stage "nowhere"',
      "stage b: stage names no agent: set agent, intent_agents, fallback_agent or parallel",
      "stage b: stage has no way out: it is not terminal and has no transitions (add a transition, or terminal: true)",
      'stage b: stage is unreachable: no transition, on_max_visits or on_failure leads to it from "a"',
      expect.stringMatching(/^stage a: transition to "nowhere" condition: does not compile: /),
    ]);
  });
});
