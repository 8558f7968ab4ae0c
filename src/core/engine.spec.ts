import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type InputDelta, InputDeltaSchema, OutputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import { type Flow, FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { SessionStatus, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, type AgentResult, AgentResultSchema, Role, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import { systemClock } from "./ports.js";
import { Engine, type EngineOptions } from "./engine.js";
import type { FlowSource } from "./turn-context.js";
import { quietTurnEvents, type TurnEvents } from "./turn-events.js";
import type { TurnRequest } from "./turn-request.js";
import { Interruption } from "./interruption.js";
import { fakeInvoker } from "./fake-invoker.js";
import type { AgentCall } from "./ports.js";

type Reply = MessageInitShape<typeof AgentResultSchema> | Error;

const flows = (flow: Flow): FlowSource => ({
  defaultFlowId: flow.id,
  get: (id, version) => (id === flow.id && (version === "" || version === flow.version) ? flow : undefined),
});

const contactFlow = create(FlowSchema, {
  id: "cc",
  version: "1",
  maxChain: 4,
  stages: [
    { name: "greeting", agent: "greeter", transitions: [{ to: "triage" }] },
    {
      name: "triage",
      agent: "triager",
      allowedIntents: ["refund", "billing", "other"],
      intentAgents: { refund: "refunds" },
      fallbackAgent: "fallback",
      transitions: [{ to: "closing" }],
    },
    { name: "closing", agent: "closer", terminal: true },
  ],
});

let n = 0;
function setup(
  replies: Record<string, (call: AgentCall) => Reply>,
  flow = contactFlow,
  invoke?: (call: AgentCall) => Promise<AgentResult>,
  options: Partial<EngineOptions> = {},
) {
  const store = new MemoryStore();
  const agents = fakeInvoker(replies, { streamText: true });
  const invoker = invoke === undefined ? agents : fakeInvoker(invoke);
  const engine = new Engine({
    ...options,
    store,
    invoker,
    flows: flows(flow),
    clock: systemClock,
    newId: () => `id-${n++}`,
    sessionTtlMs: 60_000,
    defaultAgentTimeoutMs: 1_000,
  });
  const turn = (sessionId: string, input: MessageInitShape<typeof TurnInputSchema>, turnId = ""): TurnRequest => ({
    sessionId,
    accountId: "acct",
    flowId: "",
    turnId,
    input: create(TurnInputSchema, input),
    tenant: "",
    metadata: {},
  });
  const run = (req: TurnRequest) => engine.runTurn(req, new AbortController().signal, undefined);
  return { store, agents, engine, turn, run };
}

describe("Engine", () => {
  it("creates a session on the first turn and advances by the flow's transitions", async () => {
    const { run, turn, store } = setup({ greeter: () => ({ text: "hi", statePatch: { greeted: true } }) });
    const res = await run(turn("s1", { text: "hello" }));
    expect(res.stageCompleted).toBe("greeting");
    expect(res.nextStage).toBe("triage");
    expect(res.session?.version).toBe(1n);
    expect((await store.get("s1"))?.state).toEqual({ greeted: true });
  });

  it("routes by intent, to the fallback agent for an allowed intent with no agent", async () => {
    const { run, turn, agents } = setup({
      greeter: () => ({ text: "hi" }),
      refunds: () => ({ text: "refund ok", next: { action: Action.WAIT } }),
      fallback: () => ({ text: "fallback", next: { action: Action.WAIT } }),
    });
    await run(turn("s2", { text: "hello" }));
    await run(turn("s2", { text: "money back", intent: "refund" }));
    await run(turn("s2", { text: "?", intent: "other" }));
    expect(agents.calls.map((c) => c.agent)).toEqual(["greeter", "refunds", "fallback"]);
  });

  it("refuses an intent not allowed at the stage with FAILED_PRECONDITION and the allowed list, changing nothing", async () => {
    const { run, turn, store } = setup({ greeter: () => ({ text: "hi" }) });
    await run(turn("s3", { text: "hello" }));
    const err = await run(turn("s3", { text: "x", intent: "cancel_account" })).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toBe(
      'intent "cancel_account" is not allowed at stage "triage"; allowed: refund, billing, other',
    );
    const session = await store.get("s3");
    expect(session?.version).toBe(1n);
    expect(session?.stage).toBe("triage");
    const steps = (await store.listSteps("s3", { pageSize: 0, pageToken: "" })).items;
    expect(steps.map((s) => s.status)).toEqual([StepStatus.OK, StepStatus.FAILED]);
  });

  it("chains stages in one turn on CONTINUE and completes at a terminal stage", async () => {
    const { run, turn } = setup({
      greeter: () => ({ text: "hi", next: { action: Action.CONTINUE } }),
      triager: () => ({ text: "triaged", next: { action: Action.CONTINUE } }),
      closer: () => ({ text: "bye" }),
    });
    const res = await run(turn("s4", { text: "hello" }));
    expect(res.output).toBe("hi\ntriaged\nbye");
    expect(res.isComplete).toBe(true);
    expect(res.session?.status).toBe(SessionStatus.COMPLETED);
    expect(res.session?.version).toBe(1n);
    expect(res.session?.summary?.stages).toEqual(["greeting", "triage", "closing"]);
  });

  it("bounds automatic chaining so a cycle cannot spin forever", async () => {
    const loop = create(FlowSchema, {
      id: "loop",
      version: "1",
      maxChain: 3,
      stages: [
        { name: "a", agent: "x", transitions: [{ to: "b" }] },
        { name: "b", agent: "x", transitions: [{ to: "a" }] },
      ],
    });
    const { run, turn, store } = setup({ x: () => ({ text: "again", next: { action: Action.CONTINUE } }) }, loop);
    const err = await run(turn("s5", { text: "go" })).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toContain("max_chain");
    expect(await store.get("s5")).toBeUndefined();
  });

  it("hands off to another agent in the same turn with the transcript", async () => {
    const { run, turn, agents } = setup({
      greeter: () => ({ text: "let me get a colleague", next: { action: Action.HANDOFF, targetAgent: "closer" } }),
      closer: () => ({ text: "hello, colleague here" }),
    });
    const res = await run(turn("s6", { text: "hello" }));
    expect(agents.calls.map((c) => c.agent)).toEqual(["greeter", "closer"]);
    const handedOff = agents.calls[1]?.start;
    expect(handedOff?.handoffFrom).toBe("greeter");
    expect(handedOff?.history.map((m) => m.text)).toEqual(["hello", "let me get a colleague"]);
    expect(res.output).toBe("let me get a colleague\nhello, colleague here");
  });

  it("waits for input on WAIT and records what it waits for", async () => {
    const { run, turn } = setup({
      greeter: () => ({ text: "one moment", next: { action: Action.WAIT, reason: "supervisor approval" } }),
    });
    const res = await run(turn("s7", { text: "refund 500" }));
    expect(res.session?.status).toBe(SessionStatus.WAITING);
    expect(res.session?.waiting?.reason).toBe("supervisor approval");
    expect(res.session?.stage).toBe("greeting");
  });

  it("commits nothing when the agent fails the turn", async () => {
    const { run, turn, store } = setup({ greeter: () => ({ next: { action: Action.FAIL, reason: "cannot help" } }) });
    const err = await run(turn("s8", { text: "hello" })).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).rawMessage).toBe("agent greeter failed the turn: cannot help");
    expect(await store.get("s8")).toBeUndefined();
  });

  it("applies a turn id once and replays its first result", async () => {
    let calls = 0;
    const { run, turn, store } = setup({ greeter: () => ({ text: `answer ${++calls}` }) });
    const first = await run(turn("s9", { text: "hello" }, "turn-1"));
    const again = await run(turn("s9", { text: "hello" }, "turn-1"));
    expect(again.output).toBe(first.output);
    expect(again.replayed).toBe(true);
    expect(calls).toBe(1);
    expect((await store.get("s9"))?.version).toBe(1n);
  });

  it("runs concurrent turns of one session one after another", async () => {
    const { run, turn, store } = setup({
      greeter: () => ({ text: "hi" }),
      triager: () => ({ text: "ok", next: { action: Action.WAIT } }),
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => run(turn("s10", { text: `t${i}` }))));
    expect((await store.get("s10"))?.version).toBe(10n);
  });

  it("gives the agent the smaller of the stage timeout and the caller's deadline", async () => {
    const { engine, turn, agents } = setup({ greeter: () => ({ text: "hi" }) });
    await engine.runTurn(turn("s11", { text: "x" }), new AbortController().signal, Date.now() + 250);
    expect(agents.calls[0]?.timeoutMs).toBeLessThanOrEqual(250);
    expect(agents.calls[0]?.timeoutMs).toBeGreaterThan(0);
  });

  it("commits a barge-in as an interrupted turn holding the reply as heard", async () => {
    let streamed!: () => void;
    const started = new Promise<void>((resolve) => (streamed = resolve));
    const { engine, turn, store } = setup({}, contactFlow, async (call) => {
      await call.onDelta(create(OutputDeltaSchema, { text: "Your balance is " }));
      streamed();
      await untilCancelled(call.signal);
      throw new Error("unreachable");
    });
    const controller = new AbortController();
    const seen: string[] = [];
    const observer: TurnEvents = {
      ...quietTurnEvents,
      begun: async ({ turnId, version }) => void seen.push(`begin ${turnId} v${version}`),
      output: ({ delta: d }) => void seen.push(`output ${d.text}`),
      storing: ({ steps }) => {
        seen.push(`steps ${steps.map((st) => StepStatus[st.status]).join(",")}`);
        return { details: [], lastSeq: 0n };
      },
      settled: ({ outcome: o }) => void seen.push(o.kind === "interrupted" ? `settled heard=${o.heard}` : o.kind === "failed" ? `failed ${o.error.code}` : "settled"),
    };
    const running = engine.runTurn(turn("b1", { text: "balance?" }, "turn-1"), controller.signal, undefined, observer);
    await started;
    controller.abort(new Interruption({ chars: 4 }));
    const result = await running;
    expect(result.interrupted).toBe(true);
    expect(result.output).toBe("Your");
    expect(seen).toEqual(["begin turn-1 v0", "output Your balance is ", "steps INTERRUPTED", "settled heard=Your"]);
    const session = await store.get("b1");
    expect(session?.version).toBe(1n);
    expect(session?.stage).toBe("greeting");
    expect(session?.history.map((e) => [e.role, e.text, e.interrupted])).toEqual([
      [Role.USER, "balance?", false],
      [Role.AGENT, "Your", true],
    ]);
    // Sent again, the interrupted turn replays as what it was.
    const again = await engine.runTurn(turn("b1", { text: "balance?" }, "turn-1"), new AbortController().signal, undefined);
    expect(again).toMatchObject({ replayed: true, interrupted: true, output: "Your" });
  });

  it("fails, not interrupts, a turn cancelled for another reason", async () => {
    const { engine, turn, store } = setup({}, contactFlow, async (call) => {
      await untilCancelled(call.signal);
      throw new Error("unreachable");
    });
    const controller = new AbortController();
    const running = engine.runTurn(turn("c1", { text: "hi" }), controller.signal, undefined);
    controller.abort();
    expect((await running.catch((e: unknown) => ConnectError.from(e))) as ConnectError).toMatchObject({ code: Code.Canceled });
    expect(await store.get("c1")).toBeUndefined();
  });

  it("streams input to the first agent and records all of it", async () => {
    const got: string[] = [];
    const { engine, turn, store } = setup({}, contactFlow, async (call) => {
      expect(call.start.inputStreaming).toBe(true);
      for await (const d of call.input ?? []) got.push(d.text);
      return create(AgentResultSchema, { text: `heard ${got.join("")}` });
    });
    const input = (async function* (): AsyncGenerator<InputDelta> {
      yield create(InputDeltaSchema, { text: "a table " });
      yield create(InputDeltaSchema, { text: "for two", final: true });
    })();
    const res = await engine.runTurn({ ...turn("i1", { text: "book " }), inputStream: input }, new AbortController().signal, undefined);
    expect(got).toEqual(["a table ", "for two"]);
    expect(res.output).toBe("heard a table for two");
    const steps = (await store.listSteps("i1", { pageSize: 0, pageToken: "" })).items;
    expect(steps[0]?.input?.text).toBe("book a table for two");
    expect((await store.get("i1"))?.history[0]?.text).toBe("book a table for two");
  });

  it("fails a turn whose reply outgrows the limit with RESOURCE_EXHAUSTED", async () => {
    const { engine, turn } = setup({}, contactFlow, async (call) => {
      for (let i = 0; i < 10; i++) await call.onDelta(create(OutputDeltaSchema, { text: "x".repeat(100) }));
      return create(AgentResultSchema, {});
    }, { maxOutputChars: 250 });
    const err = await engine.runTurn(turn("o1", { text: "go" }), new AbortController().signal, undefined).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.ResourceExhausted, rawMessage: "the turn's reply is longer than the limit of 250 characters" });
  });

  it("gives an agent's unstreamed reply to the observer as output", async () => {
    const { engine, turn } = setup({}, contactFlow, async () => create(AgentResultSchema, { text: "whole reply" }));
    const outputs: string[] = [];
    await engine.runTurn(turn("u1", { text: "hi" }), new AbortController().signal, undefined, { ...quietTurnEvents, output: ({ delta: d }) => void outputs.push(d.text) });
    expect(outputs).toEqual(["whole reply"]);
  });
});

/** untilCancelled rejects with CANCELED once the signal aborts, as a real agent call does. */
function untilCancelled(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const cancel = () => reject(new ConnectError("cancelled", Code.Canceled));
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, { once: true });
  });
}

describe("Engine tenants and session length", () => {
  const replies = { greeter: () => ({ text: "hi" }), triager: () => ({ text: "ok", next: { action: Action.WAIT, reason: "more" } }) };

  it("treats another tenant's session as missing, replays nothing and records nothing", async () => {
    const { run, turn, store } = setup(replies);
    await run({ ...turn("owned", { text: "a" }, "t-1"), tenant: "acme" });
    const before = await store.get("owned");
    for (const req of [turn("owned", { text: "b" }), turn("owned", { text: "a" }, "t-1")]) {
      const err = await run({ ...req, tenant: "globex" }).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.NotFound);
    }
    expect(await store.get("owned")).toEqual(before);
    expect((await store.listSteps("owned", { pageSize: 100, pageToken: "" })).items).toHaveLength(1);
    // A caller allowed every tenant (an operator) may go on with it.
    const res = await run({ ...turn("owned", { text: "c" }), tenant: "", anyTenant: true });
    expect(res.session?.version).toBe(2n);
    expect(res.session?.tenant).toBe("acme");
  });

  it("refuses a turn once the session has the most versions it may have", async () => {
    const engine = new Engine({
      store: new MemoryStore(),
      invoker: fakeInvoker(replies, { streamText: true }),
      flows: flows(contactFlow),
      clock: systemClock,
      newId: () => `id-${n++}`,
      sessionTtlMs: 60_000,
      defaultAgentTimeoutMs: 1_000,
      maxSessionVersions: 2,
    });
    const req = (text: string): TurnRequest => ({
      sessionId: "short", accountId: "", flowId: "", turnId: "", input: create(TurnInputSchema, { text }), tenant: "", metadata: {},
    });
    const signal = new AbortController().signal;
    await engine.runTurn(req("one"), signal, undefined);
    await engine.runTurn(req("two"), signal, undefined);
    const err = await engine.runTurn(req("three"), signal, undefined).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.ResourceExhausted);
    expect(ConnectError.from(err).rawMessage).toContain("has reached 2 versions");
  });
});
