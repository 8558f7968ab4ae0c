import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FailurePolicy, type Flow, FlowSchema, Join, Merge } from "../gen/switchboard/v1/flow_pb.js";
import { SessionStatus, StepKind, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, AgentResultSchema, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import { systemClock } from "./ports.js";
import { Engine } from "./engine.js";
import type { TurnRequest } from "./turn-request.js";
import { validateFlow } from "./flow.js";
import { fakeInvoker } from "./fake-invoker.js";
import type { AgentCall } from "./ports.js";

type Reply = MessageInitShape<typeof AgentResultSchema> | Error;

function setup(flowInit: MessageInitShape<typeof FlowSchema>, replies: Record<string, (call: AgentCall) => Reply | Promise<Reply>>) {
  const flow: Flow = create(FlowSchema, flowInit);
  expect(validateFlow(flow).map((p) => `${p.stage}: ${p.message}`)).toEqual([]);
  const store = new MemoryStore();
  const agents = fakeInvoker(replies);
  let n = 0;
  const engine = new Engine({
    store,
    invoker: agents,
    flows: { defaultFlowId: flow.id, get: (id, v) => (id === flow.id && (v === "" || v === flow.version) ? flow : undefined) },
    clock: systemClock,
    newId: () => `id-${n++}`,
    sessionTtlMs: 60_000,
    defaultAgentTimeoutMs: 1_000,
  });
  const run = (sessionId: string, input: MessageInitShape<typeof TurnInputSchema>) => {
    const req: TurnRequest = {
      sessionId,
      accountId: "acct",
      flowId: "",
      turnId: "",
      input: create(TurnInputSchema, input),
      tenant: "",
      metadata: {},
    };
    return engine.runTurn(req, new AbortController().signal, undefined);
  };
  const fail = (sessionId: string, input: MessageInitShape<typeof TurnInputSchema>) =>
    run(sessionId, input).then(
      () => {
        throw new Error("the turn should have failed");
      },
      (e: unknown) => ConnectError.from(e),
    );
  const steps = async (id: string) => (await store.listSteps(id, { pageSize: 0, pageToken: "" })).items;
  return { store, agents, run, fail, steps };
}

describe("CEL transitions", () => {
  it("takes the first transition whose condition holds over the patched state and the result", async () => {
    const { run } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          {
            name: "ask",
            agent: "a",
            transitions: [
              { to: "big", when: "state.amount > 100 && result.intent == 'refund'" },
              { to: "small", when: "state.amount <= 100" },
              { to: "ask" },
            ],
          },
          { name: "big", agent: "a", terminal: true },
          { name: "small", agent: "a", terminal: true },
        ],
      },
      { a: (c) => ({ statePatch: { amount: Number(c.start.input?.text) }, intent: "refund" }) },
    );
    expect((await run("s1", { text: "250" })).nextStage).toBe("big");
    expect((await run("s2", { text: "40" })).nextStage).toBe("small");
  });

  it("fails the turn, committing nothing, when a condition cannot be evaluated, and names it", async () => {
    const { run, fail, store } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          { name: "b", agent: "x", transitions: [{ to: "c", when: "state.missing > 1" }, { to: "b" }] },
          { name: "c", agent: "x", terminal: true },
        ],
      },
      { x: (call) => (call.start.input?.text === "set" ? { statePatch: { missing: 5 } } : { text: "hi" }) },
    );
    const err = await fail("s", { text: "go" });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(
      /^transition #1 \(to "c"\) of stage "b": condition "state.missing > 1" could not be evaluated: .*missing.*\(test for optional keys with has\(state.KEY\)\)$/,
    );
    expect(await store.get("s")).toBeUndefined();
    expect((await run("s", { text: "set" })).nextStage).toBe("c");
  });

  it("goes back to the previous stage on a back transition", async () => {
    const { run } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          { name: "a", agent: "x", transitions: [{ to: "help" }] },
          { name: "help", agent: "x", transitions: [{ back: true, when: "input.text == 'done'" }, { to: "help" }] },
        ],
      },
      { x: () => ({}) },
    );
    expect((await run("s", { text: "hi" })).nextStage).toBe("help");
    expect((await run("s", { text: "more" })).nextStage).toBe("help");
    expect((await run("s", { text: "done" })).nextStage).toBe("a");
  });

  it("counts loops through a stage and leaves for on_max_visits past max_visits", async () => {
    const { run } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          { name: "auth", agent: "x", maxVisits: 3, onMaxVisits: "human", transitions: [{ to: "done", when: "input.text == '1234'" }, { to: "auth" }] },
          { name: "human", agent: "x", waitReason: "a colleague", transitions: [{ to: "done" }] },
          { name: "done", agent: "x", terminal: true },
        ],
      },
      { x: () => ({}) },
    );
    expect((await run("s", { text: "1" })).session?.stageVisits["auth"]).toBe(2);
    expect((await run("s", { text: "2" })).nextStage).toBe("auth");
    const third = await run("s", { text: "3" });
    expect(third.nextStage).toBe("human");
    expect(third.session?.status).toBe(SessionStatus.WAITING);
    expect(third.session?.waiting?.reason).toBe("a colleague");
  });
});

describe("integrity checks", () => {
  const flow = {
    id: "f",
    version: "1",
    invariants: [{ name: "cap", expr: "!has(state.amount) || state.amount <= 1000", message: "amounts above 1000 need a manager" }],
    stages: [
      {
        name: "pay",
        agent: "x",
        preconditions: [{ name: "can_pay", expr: "'pay' in permissions", message: "needs the pay permission" }],
        postconditions: [{ name: "has_receipt", expr: "has(result.state_patch.receipt)" }],
        transitions: [{ to: "pay" }],
      },
    ],
  };
  const replies = { x: (c: AgentCall) => ({ statePatch: JSON.parse(c.start.input?.text || "{}") as Record<string, number> }) };

  it("refuses a turn whose precondition fails, naming the check, before any agent runs", async () => {
    const { fail, agents, store } = setup(flow, replies);
    const err = await fail("s", { text: '{"receipt":1}' });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe('precondition "can_pay" of stage "pay" failed: needs the pay permission');
    expect(agents.calls).toHaveLength(0);
    expect(await store.get("s")).toBeUndefined();
  });

  it("fails a turn whose postcondition or invariant fails and commits nothing", async () => {
    const { run, fail, store } = setup(flow, replies);
    const pay = { metadata: { permissions: "pay" } };
    await run("s", { ...pay, text: '{"receipt":1,"amount":10}' });
    const post = await fail("s", { ...pay, text: '{"amount":20}' });
    expect(post.rawMessage).toBe('postcondition "has_receipt" of stage "pay" failed: has(result.state_patch.receipt) is false');
    const inv = await fail("s", { ...pay, text: '{"receipt":2,"amount":5000}' });
    expect(inv.rawMessage).toBe('invariant "cap" of flow "f" failed: amounts above 1000 need a manager');
    const session = await store.get("s");
    expect(session?.version).toBe(1n);
    expect(session?.state).toEqual({ receipt: 1, amount: 10 });
  });
});

describe("parallel stages", () => {
  const fan = (join: MessageInitShape<typeof FlowSchema>["stages"] extends (infer S)[] | undefined ? S : never) => ({
    id: "f",
    version: "1",
    stages: [join, { name: "next", agent: "a", terminal: true }],
  });

  it("joins on 2 of 3 with one branch failing, merging patches by branch, and records each branch", async () => {
    const { run, steps } = setup(
      fan({
        name: "lookup",
        parallel: {
          branches: [
            { name: "a", agent: "a" },
            { name: "b", agent: "b" },
            { name: "c", agent: "c" },
          ],
          join: Join.AT_LEAST,
          minSuccesses: 2,
          merge: Merge.BY_BRANCH,
        },
        transitions: [{ to: "next", when: "result.branches.c.status == 'failed'" }, { to: "lookup" }],
      }),
      {
        a: () => ({ text: "A", statePatch: { v: 1 } }),
        b: () => ({ text: "B", statePatch: { v: 2 } }),
        c: () => new ConnectError("down", Code.Unavailable),
      },
    );
    const res = await run("s", { text: "go" });
    expect(res.output).toBe("A\nB");
    expect(res.nextStage).toBe("next");
    expect(res.session?.state).toEqual({ a: { v: 1 }, b: { v: 2 } });
    const trail = await steps("s");
    expect(trail.map((s) => [StepKind[s.kind], s.agent, StepStatus[s.status]])).toEqual([
      ["BRANCH", "a", "OK"],
      ["BRANCH", "b", "OK"],
      ["BRANCH", "c", "FAILED"],
      ["TURN", "", "OK"],
    ]);
    expect(trail[3]?.details["branches"]).toBe("a=ok,b=ok,c=failed");
  });

  it("fails the stage when the join can no longer be met, without waiting for the rest", async () => {
    let release: () => void = () => {};
    const slow = new Promise<Reply>((resolve) => (release = () => resolve({ text: "late" })));
    const { fail, agents } = setup(
      fan({
        name: "lookup",
        parallel: { branches: [{ name: "a", agent: "a" }, { name: "b", agent: "b" }, { name: "c", agent: "c" }], join: Join.AT_LEAST, minSuccesses: 2 },
        transitions: [{ to: "next" }],
      }),
      {
        a: () => new ConnectError("a down", Code.Unavailable),
        b: () => new ConnectError("b down", Code.Unavailable),
        c: (call) =>
          new Promise<Reply>((resolve) => {
            call.signal.addEventListener("abort", () => resolve(new ConnectError("cancelled", Code.Canceled)));
            void slow.then(resolve);
          }),
      },
    );
    const err = await fail("s", { text: "go" });
    release();
    expect(err.rawMessage).toBe('parallel stage "lookup" needed 2 of 3 branches to succeed, 0 did; failed: a (unavailable: a down), b (unavailable: b down)');
    expect(agents.calls.find((c) => c.agent === "c")?.signal.aborted).toBe(true);
  });

  it("treats two branches setting one key as a conflict under MERGE_DISJOINT", async () => {
    const { fail, store } = setup(
      fan({
        name: "lookup",
        parallel: { branches: [{ name: "a", agent: "a" }, { name: "b", agent: "b" }] },
        transitions: [{ to: "next" }],
      }),
      { a: () => ({ statePatch: { k: 1 } }), b: () => ({ statePatch: { k: 2 } }) },
    );
    const err = await fail("s", { text: "go" });
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/^parallel stage "lookup": branches "a" and "b" both set state key "k" \(merge MERGE_DISJOINT\)/);
    expect(await store.get("s")).toBeUndefined();
  });

  it("fails at the first failed branch under FAILURE_POLICY_FAIL_FAST, and bounds each branch by branch_timeout", async () => {
    const { fail, agents } = setup(
      fan({
        name: "lookup",
        timeout: { seconds: 5n, nanos: 0 },
        parallel: {
          branches: [{ name: "a", agent: "a" }, { name: "b", agent: "b" }, { name: "c", agent: "c" }],
          join: Join.AT_LEAST,
          minSuccesses: 1,
          failurePolicy: FailurePolicy.FAIL_FAST,
          branchTimeout: { seconds: 0n, nanos: 250_000_000 },
        },
        transitions: [{ to: "next" }],
      }),
      {
        a: () => new ConnectError("a down", Code.Unavailable),
        b: (call) => new Promise<Reply>((resolve) => call.signal.addEventListener("abort", () => resolve(new ConnectError("cancelled", Code.Canceled)))),
        c: (call) => new Promise<Reply>((resolve) => call.signal.addEventListener("abort", () => resolve(new ConnectError("cancelled", Code.Canceled)))),
      },
    );
    const err = await fail("s", { text: "go" });
    expect(err.rawMessage).toMatch(/^parallel stage "lookup" needed 1 of 3 branches to succeed, 0 did; failed: a \(unavailable: a down\)$/);
    expect(agents.calls.map((c) => [c.agent, c.timeoutMs, c.start.metadata["branch"], c.signal.aborted])).toEqual([
      ["a", 250, "a", false],
      ["b", 250, "b", true],
      ["c", 250, "c", true],
    ]);
  });

  it("settles JOIN_ANY on the first success and cancels the others", async () => {
    const { run, agents } = setup(
      fan({
        name: "lookup",
        parallel: { branches: [{ name: "fast", agent: "a" }, { name: "slow", agent: "b" }], join: Join.ANY },
        transitions: [{ to: "next" }],
      }),
      {
        a: () => ({ text: "fast" }),
        b: (call) => new Promise<Reply>((resolve) => call.signal.addEventListener("abort", () => resolve(new ConnectError("cancelled", Code.Canceled)))),
      },
    );
    const res = await run("s", { text: "go" });
    expect(res.output).toBe("fast");
    expect(agents.calls.find((c) => c.agent === "b")?.signal.aborted).toBe(true);
  });
});

describe("saga", () => {
  const flow = {
    id: "trip",
    version: "1",
    stages: [
      { name: "flight", agent: "flights", compensation: { intent: "cancel_flight" }, transitions: [{ to: "hotel" }] },
      { name: "hotel", agent: "hotels", compensation: { agent: "hotels", intent: "cancel_hotel" }, transitions: [{ to: "pay" }] },
      { name: "pay", agent: "payments", onFailure: { compensate: true }, transitions: [{ to: "done" }] },
      { name: "done", agent: "payments", terminal: true },
    ],
  };

  it("runs the compensations of completed stages newest first when a later stage fails, and records them", async () => {
    const { run, agents, steps } = setup(flow, {
      flights: (c) => (c.start.intent === "cancel_flight" ? { text: "flight cancelled", statePatch: { flight: null } } : { statePatch: { flight: "F1" } }),
      hotels: (c) => (c.start.intent === "cancel_hotel" ? new ConnectError("hotel system down", Code.Unavailable) : { statePatch: { hotel: "H1" } }),
      payments: () => ({ next: { action: Action.FAIL, reason: "card declined" } }),
    });
    await run("s", { text: "book" });
    await run("s", { text: "hotel too" });
    const res = await run("s", { text: "pay" });
    expect(res.isComplete).toBe(true);
    expect(res.output).toBe("flight cancelled");
    expect(res.session?.status).toBe(SessionStatus.FAILED);
    expect(res.session?.summary?.outcome).toBe(
      "failed at stage pay: agent payments failed the turn: card declined; compensated: flight; compensation failed: hotel",
    );
    expect(res.session?.state).toEqual({ hotel: "H1" });
    expect(res.session?.compensations).toEqual([]);
    expect(agents.calls.slice(-2).map((c) => [c.agent, c.start.intent, c.start.stage])).toEqual([
      ["hotels", "cancel_hotel", "hotel"],
      ["flights", "cancel_flight", "flight"],
    ]);
    const trail = (await steps("s")).filter((s) => s.version === 3n);
    expect(trail.map((s) => [StepKind[s.kind], s.stage, StepStatus[s.status]])).toEqual([
      ["TURN", "pay", "FAILED"],
      ["COMPENSATION", "hotel", "FAILED"],
      ["COMPENSATION", "flight", "OK"],
    ]);
  });

  it("without on_failure, a failing stage commits nothing and compensates nothing", async () => {
    const { run, fail, agents, store } = setup(
      { ...flow, stages: flow.stages.map((s) => ({ ...s, onFailure: undefined })) },
      { flights: () => ({}), hotels: () => ({}), payments: () => ({ next: { action: Action.FAIL, reason: "card declined" } }) },
    );
    await run("s", { text: "book" });
    await run("s", { text: "hotel" });
    const err = await fail("s", { text: "pay" });
    expect(err.rawMessage).toBe("agent payments failed the turn: card declined");
    expect(agents.calls.map((c) => c.start.intent).filter((i) => i.startsWith("cancel"))).toEqual([]);
    expect((await store.get("s"))?.version).toBe(2n);
  });
});

describe("routing", () => {
  it("routes an event like an intent, and a turn without an intent by the conversation's intent", async () => {
    const { run, agents } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          { name: "capture", agent: "triage", intentAgents: { refund: "refunds" }, fallbackAgent: "fallback", transitions: [{ to: "do", when: "session.intent == 'refund'" }, { to: "capture" }] },
          { name: "do", intentAgents: { refund: "refunds", paid: "payments" }, eventIntents: { "payment.ok": "paid" }, fallbackAgent: "fallback", transitions: [{ to: "do" }] },
        ],
      },
      {
        triage: () => ({ intent: "refund", next: { action: Action.HANDOFF, targetAgent: "refunds" } }),
        refunds: () => ({ text: "refund" }),
        payments: () => ({ text: "paid" }),
        fallback: () => ({ text: "?" }),
      },
    );
    await run("s", { text: "money back please" });
    await run("s", { text: "yes" });
    await run("s", { event: { type: "payment.ok" } });
    expect(agents.calls.map((c) => [c.agent, c.start.intent])).toEqual([
      ["triage", ""],
      ["refunds", "refund"],
      ["refunds", "refund"],
      ["payments", "paid"],
    ]);
  });

  it("hands the stage's retry policy to the invoker, which owns retrying", async () => {
    const seen: Array<number | undefined> = [];
    const { run } = setup(
      { id: "f", version: "1", stages: [{ name: "a", agent: "x", retry: { maxAttempts: 3 }, transitions: [{ to: "a" }] }] },
      {
        x: (call) => {
          seen.push(call.retry?.maxAttempts);
          return { text: "ok" };
        },
      },
    );
    await run("s", { text: "go" });
    expect(seen).toEqual([3]);
  });
});

describe("summary", () => {
  it("lists every agent and intent of a long conversation, beyond the inline history window", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `agent-${i}`);
    const { run } = setup(
      {
        id: "f",
        version: "1",
        stages: [
          { name: "talk", agent: "agent-0", intentAgents: Object.fromEntries(names.map((n, i) => [`i${i}`, n])), transitions: [{ to: "talk", when: "input.text != 'bye'" }, { to: "end" }] },
          { name: "end", agent: "agent-0", terminal: true },
        ],
      },
      Object.fromEntries(names.map((n) => [n, () => ({ text: `from ${n}` })])),
    );
    for (let i = 0; i < 30; i++) await run("s", { text: "hi", intent: `i${i}` });
    await run("s", { text: "bye" });
    const done = await run("s", { text: "bye" });
    const summary = done.session?.summary;
    expect(done.session?.history.length).toBe(20);
    expect(summary?.outcome).toBe("completed");
    expect(summary?.agents).toEqual(names);
    expect(summary?.intents).toEqual(names.map((_, i) => `i${i}`));
    expect(summary?.turns).toBe(32);
    expect(Object.keys(summary?.stageDurations ?? {}).sort()).toEqual(["end", "talk"]);
    expect(summary?.stages.at(-1)).toBe("end");
  });
});
