import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FlowSchema } from "../gen/switchboard/v1/flow_pb.js";
import { StepStatus } from "../gen/switchboard/v1/session_pb.js";
import { Action, AgentResultSchema, TurnInputSchema } from "../gen/switchboard/v1/turn_pb.js";
import { MemoryStore } from "../store/memory-store.js";
import { systemClock } from "./ports.js";
import { Engine } from "./engine.js";
import { mark, withAgentCallFacts } from "./errors.js";
import { fakeInvoker } from "./fake-invoker.js";
import type { AgentCall, AgentOutcome } from "./ports.js";

/**
 * How the engine uses what the mesh tells it: an unroutable agent hands the
 * turn to the stage's fallback agent, and a failed call's facts land in the
 * failed step.
 */
const flow = create(FlowSchema, {
  id: "f",
  version: "1",
  stages: [
    { name: "main", agent: "primary", fallbackAgent: "backup", retry: { maxAttempts: 3 } },
    { name: "other", agent: "lonely" },
  ],
});

function setup(script: (call: AgentCall) => Promise<AgentOutcome>) {
  const store = new MemoryStore();
  const invoker = fakeInvoker(script);
  let n = 0;
  const engine = new Engine({
    store,
    invoker,
    flows: { defaultFlowId: "f", get: (id) => (id === "f" ? flow : undefined) },
    clock: systemClock,
    newId: () => `id-${n++}`,
    sessionTtlMs: 60_000,
    defaultAgentTimeoutMs: 1_000,
  });
  const run = (sessionId: string, text = "hi") =>
    engine.runTurn(
      { sessionId, accountId: "", flowId: "", turnId: "", input: create(TurnInputSchema, { text }), tenant: "", metadata: {} },
      new AbortController().signal,
      undefined,
    );
  return { store, invoker, run };
}

const ok = (call: AgentCall): AgentOutcome => ({
  result: create(AgentResultSchema, { text: `${call.agent} here`, next: { action: Action.WAIT } }),
  instance: `http://${call.agent}`,
  attempts: 1,
  latencyMs: 3,
  breaker: "closed",
});

describe("Engine with the mesh", () => {
  it("sends the turn to the stage's fallback agent when the agent is unroutable", async () => {
    const { run, invoker, store } = setup(async (call) => {
      if (call.agent === "primary") throw mark(new ConnectError("agent primary: all breakers open", Code.Unavailable), "unroutable");
      return ok(call);
    });
    const res = await run("s1");
    expect(res.output).toBe("backup here");
    expect(res.agent).toBe("backup");
    expect(invoker.calls.map((c) => c.agent)).toEqual(["primary", "backup"]);
    const [step] = (await store.listSteps("s1", { pageSize: 0, pageToken: "" })).items;
    expect(step?.agent).toBe("backup");
    expect(step?.details["fallback_for"]).toBe("primary");
  });

  it("does not fall back when the agent was reached and failed", async () => {
    const { run, invoker } = setup(async () => {
      throw new ConnectError("agent primary at http://p failed: boom", Code.Internal);
    });
    const err = ConnectError.from(await run("s2").then(() => undefined, (e: unknown) => e));
    expect(err.code).toBe(Code.Internal);
    expect(invoker.calls.map((c) => c.agent)).toEqual(["primary"]);
  });

  it("passes the stage's retry policy to the invoker", async () => {
    const { run, invoker } = setup(async (call) => ok(call));
    await run("s3");
    expect(invoker.calls[0]?.retry?.maxAttempts).toBe(3);
  });

  it("records the failed call's instance, attempts, latency, breaker and partial output in the failed step", async () => {
    let first = true;
    const { run, store } = setup(async (call) => {
      if (first) {
        first = false;
        return ok(call);
      }
      throw withAgentCallFacts(new ConnectError("agent primary at http://p2 broke off", Code.Unavailable), {
        agent: "primary",
        instance: "http://p2",
        attempts: 2,
        latencyMs: 42,
        breaker: "half_open",
        output: "Hello, I",
      });
    });
    await run("s4");
    await run("s4").catch(() => undefined);
    const steps = (await store.listSteps("s4", { pageSize: 0, pageToken: "" })).items;
    const failed = steps.at(-1);
    expect(failed?.status).toBe(StepStatus.FAILED);
    expect(failed?.instance).toBe("http://p2");
    expect(failed?.attempts).toBe(2);
    expect(failed?.breaker).toBe("half_open");
    expect(failed?.output).toBe("Hello, I");
    expect(durationMs(failed!.latency!)).toBe(42);
    expect(failed?.error?.code).toBe("unavailable");
  });
});
