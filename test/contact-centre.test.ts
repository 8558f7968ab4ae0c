import { type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService, SendTurnView } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, StepKind, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import type { TurnInputSchema } from "../src/gen/switchboard/v1/turn_pb.js";
import { jsonLine, type Proc, repoRoot, type RunningOrchestrator, startContactCentreAgentsProcess, startOrchestratorProcess } from "./support/process.js";

/**
 * The reference contact-centre flow end to end: a gRPC client drives a real
 * orchestrator process, which calls the sample agents in another process.
 */
describe("the contact-centre flow over gRPC", () => {
  let agents: Proc & { flags: string[] };
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  const flowsDir = mkdtempSync(join(tmpdir(), "switchboard-flows-"));

  beforeAll(async () => {
    copyFileSync(join(repoRoot, "flows/contact-centre.yaml"), join(flowsDir, "contact-centre.yaml"));
    agents = await startContactCentreAgentsProcess();
    orchestrator = await startOrchestratorProcess(["--flows", flowsDir, "--default-flow", "contact-centre", ...agents.flags]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agents?.stop();
    rmSync(flowsDir, { recursive: true, force: true });
  });

  const say = (sessionId: string, input: MessageInitShape<typeof TurnInputSchema>, accountId = "acct-1") =>
    // The assertions read the session's visit counts and compensations: the full view.
    client.sendTurn({ sessionId, accountId, input, view: SendTurnView.FULL });
  const refused = (sessionId: string, input: MessageInitShape<typeof TurnInputSchema>) =>
    say(sessionId, input).then(
      () => {
        throw new Error("the turn should have been refused");
      },
      (e: unknown) => ConnectError.from(e),
    );
  /** verified opens a call and passes authentication (and the account lookup). */
  const verified = async (sessionId: string, accountId = "acct-1") => {
    await say(sessionId, { text: "hello" }, accountId);
    return say(sessionId, { text: "my code is 1234" });
  };
  const steps = async (sessionId: string) => (await client.listSteps({ sessionId, pageSize: 1000 })).steps;

  it("runs the happy path to the end and summarises the call", async () => {
    const greeting = await say("happy", { text: "hello" });
    expect(greeting.output).toBe("Welcome to Acme. For your security, please tell me your 4-digit security code.");
    expect(greeting.nextStage).toBe("authentication");
    const auth = await say("happy", { text: "my code is 1234", intent: "verify_identity" });
    expect(auth.output).toBe("Thank you, you are verified.");
    expect(auth.nextStage).toBe("intent_capture");
    expect(auth.session?.state?.["balance"]).toEqual({ amount: 1250, currency: "EUR" });
    const capture = await say("happy", { text: "I would like a refund of 40 for order A-17" });
    expect(capture.output).toBe("I can refund 40.00 for order A-17. Shall I go ahead?");
    expect(capture.agent).toBe("refund");
    expect(capture.nextStage).toBe("fulfilment");
    const fulfil = await say("happy", { text: "yes please" });
    expect(fulfil.output).toBe("Your refund of 40.00 has been issued, reference RF-happy.");
    expect(fulfil.nextStage).toBe("closing");
    const bye = await say("happy", { text: "no, that is all" });
    expect(bye.output).toBe("Thank you for calling Acme. Goodbye!");
    expect(bye.isComplete).toBe(true);

    const { session } = await client.getSession({ sessionId: "happy" });
    expect(session?.status).toBe(SessionStatus.COMPLETED);
    const summary = session?.summary;
    expect(summary?.outcome).toBe("completed");
    expect(summary?.stages).toEqual(["greeting", "authentication", "lookup", "intent_capture", "fulfilment", "closing"]);
    expect(summary?.intents).toEqual(["verify_identity", "refund"]);
    expect(summary?.agents).toEqual(["greeting", "auth", "account", "balance", "billing", "triage", "refund", "closing"]);
    expect(summary?.turns).toBe(5);
    expect(Object.keys(summary?.stageDurations ?? {}).sort()).toEqual(
      ["authentication", "closing", "fulfilment", "greeting", "intent_capture", "lookup"],
    );
    const total = durationMs(summary?.duration ?? { seconds: 0n, nanos: 0, $typeName: "google.protobuf.Duration" });
    const perStage = Object.values(summary?.stageDurations ?? {}).reduce((sum, d) => sum + durationMs(d), 0);
    expect(total).toBeGreaterThan(0);
    expect(Math.abs(total - perStage)).toBeLessThan(5);
    await expect(say("happy", { text: "hello again" })).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });

  it("refuses an intent the stage does not allow, listing the allowed ones, and stays where it was", async () => {
    await say("disallowed", { text: "hello" });
    const err = await refused("disallowed", { text: "give me my money back", intent: "refund" });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe('intent "refund" is not allowed at stage "authentication"; allowed: verify_identity');
    const { session } = await client.getSession({ sessionId: "disallowed" });
    expect(session?.version).toBe(1n);
    expect(session?.stage).toBe("authentication");
    const trail = await steps("disallowed");
    expect(trail.map((s) => [s.stage, s.intent, StepStatus[s.status]])).toEqual([
      ["greeting", "", "OK"],
      ["authentication", "refund", "FAILED"],
    ]);
  });

  it("sends an intent no domain agent handles to the fallback agent", async () => {
    await verified("unknown-intent");
    const res = await say("unknown-intent", { text: "I lost my card", intent: "lost_card" });
    expect(res.agent).toBe("fallback");
    expect(res.output).toMatch(/^I am afraid I cannot help with "lost_card" on this line\./);
    expect(res.nextStage).toBe("intent_capture");
    // The fallback agent recognises a known request and hands the call on.
    const next = await say("unknown-intent", { text: "then I want to check my balance" });
    expect(next.agent).toBe("balance");
    expect(next.nextStage).toBe("fulfilment");
  });

  it("loops on a wrong security code, then after three hands the call to a waiting human queue", async () => {
    await say("auth-loop", { text: "hello" });
    const first = await say("auth-loop", { text: "1111" });
    expect(first.output).toBe("That code does not match. Please try again.");
    expect(first.nextStage).toBe("authentication");
    expect(first.session?.stageVisits["authentication"]).toBe(2);
    await say("auth-loop", { text: "2222" });
    const third = await say("auth-loop", { text: "3333" });
    expect(third.output).toBe("That code does not match either. I am passing you to a colleague.");
    expect(third.nextStage).toBe("human_queue");
    expect(third.session?.status).toBe(SessionStatus.WAITING);

    const waiting = await client.listSessions({ status: SessionStatus.WAITING, pageSize: 500 });
    const listed = waiting.sessions.find((s) => s.id === "auth-loop");
    expect(listed?.waiting?.reason).toBe("a colleague takes over after three failed security checks");
    expect(listed?.waiting?.stage).toBe("human_queue");

    const human = await say("auth-loop", { text: "Hi, this is Sam. Let me help you.", metadata: { actor: "Sam" } });
    expect(human.agent).toBe("human-desk");
    expect(human.output).toBe("You are now talking to Sam: Hi, this is Sam. Let me help you.");
    expect(human.nextStage).toBe("closing");
    expect(human.session?.status).toBe(SessionStatus.ACTIVE);
    const after = await client.listSessions({ status: SessionStatus.WAITING, pageSize: 500 });
    expect(after.sessions.map((s) => s.id)).not.toContain("auth-loop");
  });

  it("waits for a supervisor's approval of a large refund, refuses anyone else, and resumes on approval", async () => {
    await verified("approval");
    const capture = await say("approval", { text: "I want a refund of 250 for order B-9" });
    expect(capture.nextStage).toBe("approval");
    expect(capture.session?.status).toBe(SessionStatus.WAITING);
    expect(capture.session?.waiting?.reason).toBe("supervisor approval for a refund above 100.00");
    const waiting = await client.listSessions({ status: SessionStatus.WAITING, pageSize: 500 });
    expect(waiting.sessions.map((s) => s.id)).toContain("approval");

    const caller = await refused("approval", { event: { type: "approval.granted" } });
    expect(caller.code).toBe(Code.FailedPrecondition);
    expect(caller.rawMessage).toBe(
      'precondition "supervisor_only" of stage "approval" failed: only a supervisor (permission refunds.approve) can act on a refund waiting for approval',
    );
    expect((await client.getSession({ sessionId: "approval" })).session?.status).toBe(SessionStatus.WAITING);

    const approved = await say("approval", {
      event: { type: "approval.granted" },
      metadata: { permissions: "refunds.approve", actor: "supervisor-7" },
    });
    expect(approved.output).toBe("The refund was approved by supervisor-7.\nYour refund of 250.00 has been issued, reference RF-approval.");
    expect(approved.nextStage).toBe("closing");
    expect(approved.session?.status).toBe(SessionStatus.ACTIVE);
    expect(approved.session?.state?.["approved_by"]).toBe("supervisor-7");
    const trail = await steps("approval");
    expect(trail.filter((s) => s.version === approved.session?.version).map((s) => [s.stage, s.agent, s.intent])).toEqual([
      ["approval", "approval", "approve"],
      ["fulfilment", "refund", "refund"],
    ]);
  });

  it("joins the parallel lookup on 2 of 3 branches when one back-end fails, and records every branch", async () => {
    const res = await verified("parallel", "acct-billing-down");
    expect(res.nextStage).toBe("intent_capture");
    expect(res.session?.state?.["account"]).toEqual({ holder: "acct-billing-down", plan: "Gold" });
    expect(res.session?.state?.["balance"]).toEqual({ amount: 1250, currency: "EUR" });
    expect(res.session?.state).not.toHaveProperty("billing");
    const lookup = (await steps("parallel")).filter((s) => s.stage === "lookup");
    expect(lookup.map((s) => [StepKind[s.kind], s.details["branch"] ?? "", StepStatus[s.status]])).toEqual([
      ["BRANCH", "account", "OK"],
      ["BRANCH", "balance", "OK"],
      ["BRANCH", "billing", "FAILED"],
      ["TURN", "", "OK"],
    ]);
    expect(lookup[2]?.error?.code).toBe("unavailable");
    expect(lookup[2]?.error?.message).toMatch(/the billing system is unreachable/);
    expect(lookup[3]?.details["branches"]).toBe("account=ok,balance=ok,billing=failed");

    // With two back-ends down the join cannot be met: the turn fails and commits nothing.
    await say("parallel-2-down", { text: "hello" }, "acct-billing-down-balance-down");
    const err = await refused("parallel-2-down", { text: "1234" });
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/^parallel stage "lookup" needed 2 of 3 branches to succeed, 1 did; failed: balance \(unavailable: .*\), billing \(unavailable: .*\)$/);
    expect((await client.getSession({ sessionId: "parallel-2-down" })).session?.stage).toBe("authentication");
  });

  it("compensates the completed stages, newest first, when a late payment fails", async () => {
    await verified("saga");
    const hold = await say("saga", { text: "I want to book an appointment" });
    expect(hold.output).toBe("I have held Tuesday 10:00 for you. Shall I confirm it and charge the card on file?");
    const paying = await say("saga", { text: "yes, confirm it" });
    expect(paying.session?.status).toBe(SessionStatus.WAITING);
    expect(paying.session?.waiting?.reason).toBe("payment confirmation");

    const failed = await say("saga", { event: { type: "payment.failed", data: { reason: "card declined" } } });
    expect(failed.output).toBe("I have released the slot I was holding for you.\nFor your security I have signed you out.");
    expect(failed.nextStage).toBe("closing");
    expect(failed.session?.state?.["booking_status"]).toBe("released");
    expect(failed.session?.state).not.toHaveProperty("token");
    expect(failed.session?.compensations).toEqual([]);

    const trail = (await steps("saga")).filter((s) => s.version === failed.session?.version);
    expect(trail.map((s) => [StepKind[s.kind], s.stage, s.agent, s.intent, StepStatus[s.status]])).toEqual([
      ["TURN", "fulfilment", "booking", "payment_failed", "FAILED"],
      ["COMPENSATION", "intent_capture", "booking", "undo", "OK"],
      ["COMPENSATION", "authentication", "auth", "revoke_token", "OK"],
    ]);
    expect(trail[0]?.error?.message).toBe("agent booking failed the turn: payment failed: card declined");

    const bye = await say("saga", { text: "ok, bye" });
    expect(bye.output).toBe("I am sorry we could not complete your booking. Thank you for calling Acme. Goodbye!");
    expect(bye.isComplete).toBe(true);
  });

  it("rolls back to an earlier version and takes a different branch from there", async () => {
    const auth = await verified("rollback");
    const refund = await say("rollback", { text: "refund 30 for order C-1 please" });
    expect(refund.session?.intent).toBe("refund");
    expect(refund.nextStage).toBe("fulfilment");

    const rolled = await client.rollbackSession({ sessionId: "rollback", version: auth.session?.version ?? 0n });
    expect(rolled.session?.stage).toBe("intent_capture");
    expect(rolled.session?.intent).toBe("");
    expect(rolled.session?.state).not.toHaveProperty("refund_amount");

    const balance = await say("rollback", { text: "what is my balance?" });
    expect(balance.agent).toBe("balance");
    expect(balance.output).toBe("Your balance is 1250.00 EUR. Shall I text it to you?");
    await say("rollback", { text: "yes" });
    const done = await say("rollback", { text: "bye" });
    expect(done.session?.summary?.intents).toEqual(["balance"]);
    expect(done.session?.summary?.agents).not.toContain("refund");

    const trail = await steps("rollback");
    expect(trail.map((s) => [s.version, StepKind[s.kind], s.agent]).filter(([, k]) => k !== "BRANCH")).toEqual([
      [1n, "TURN", "greeting"],
      [2n, "TURN", "auth"],
      [2n, "TURN", ""],
      [3n, "TURN", "triage"],
      [3n, "TURN", "refund"],
      [4n, "ROLLBACK", ""],
      [5n, "TURN", "triage"],
      [5n, "TURN", "balance"],
      [6n, "TURN", "balance"],
      [7n, "TURN", "closing"],
    ]);
    expect(trail.find((s) => s.kind === StepKind.ROLLBACK)?.details).toEqual({ rolled_back_to: "2", rolled_back_from: "3" });
  });

  it("fails a turn that would break the flow's invariant, naming it, and commits nothing", async () => {
    await verified("invariant");
    const err = await refused("invariant", { text: "refund 9000 for order D-1" });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe(
      'invariant "refund_within_phone_limit" of flow "contact-centre" failed: refunds above 5000.00 cannot be handled on a call; refer the caller to the claims team',
    );
    const { session } = await client.getSession({ sessionId: "invariant" });
    expect(session?.version).toBe(2n);
    expect(session?.state).not.toHaveProperty("refund_amount");
  });

  describe("flow versions", () => {
    const v2 = () =>
      readFileSync(join(repoRoot, "flows/contact-centre.yaml"), "utf8")
        .replace('version: "1"', 'version: "2"')
        .replace("max_visits: 3", "max_visits: 2");

    it("pins running sessions to their version when a new one is loaded with SIGHUP", async () => {
      const old = await say("pinned-v1", { text: "hello" });
      expect(old.session?.flowVersion).toBe("1");

      writeFileSync(join(flowsDir, "contact-centre-v2.yaml"), v2());
      orchestrator.child.kill("SIGHUP");
      const reloaded = await orchestrator.waitForLine((l) => jsonLine(l)?.["msg"] === "flows reloaded");
      expect(jsonLine(reloaded)?.["added"]).toEqual(["contact-centre@2"]);

      const fresh = await say("pinned-v2", { text: "hello" });
      expect(fresh.session?.flowVersion).toBe("2");
      // Version 2 hands over after two wrong codes; the session on version 1 still allows three.
      await say("pinned-v2", { text: "0000" });
      expect((await say("pinned-v2", { text: "0000" })).nextStage).toBe("human_queue");
      await say("pinned-v1", { text: "0000" });
      const stillV1 = await say("pinned-v1", { text: "0000" });
      expect(stillV1.nextStage).toBe("authentication");
      expect(stillV1.session?.flowVersion).toBe("1");
      const listed = await client.listFlows({});
      expect(listed.flows.map((f) => `${f.id}@${f.version}`).sort()).toEqual(["contact-centre@1", "contact-centre@2"]);
    });

    it("refuses a reload with a broken file, listing its problems by line, and changes nothing", async () => {
      writeFileSync(join(flowsDir, "zz-broken.yaml"), "id: broken\nversion: \"1\"\nstages:\n  - name: a\n    agent: x\n    transitions:\n      - to: b\n");
      const err = await client.reloadFlows({}).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toContain(`${join(flowsDir, "zz-broken.yaml")}:7: stage a: transition to unknown stage "b"`);
      rmSync(join(flowsDir, "zz-broken.yaml"));
      const ok = await client.reloadFlows({});
      expect(ok.added).toEqual([]);
      expect(ok.loaded.sort()).toEqual(["contact-centre@1", "contact-centre@2"]);
    });

    it("refuses a changed file that keeps its version, since sessions are pinned to it", async () => {
      writeFileSync(join(flowsDir, "contact-centre-v2.yaml"), v2().replace("max_visits: 2", "max_visits: 5"));
      const err = await client.reloadFlows({}).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.rawMessage).toContain("flow contact-centre@2 changed but kept its version");
      writeFileSync(join(flowsDir, "contact-centre-v2.yaml"), v2());
    });
  });
});
