import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { answer, hang, TestAgent } from "./support/test-agent.js";

const stageTimeoutMs = 800;

/**
 * Deadlines and cancellation end to end: a real orchestrator process calls
 * real agent servers that hang on purpose.
 */
describe("deadlines and cancellation", () => {
  let hanging: TestAgent;
  let healthy: TestAgent;
  let budgeted: TestAgent;
  let greeter: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;

  beforeAll(async () => {
    hanging = await TestAgent.start("assistant", hang);
    healthy = await TestAgent.start("assistant", answer);
    budgeted = await TestAgent.start("budgeted", hang);
    greeter = await TestAgent.start("greeter", answer);
    flows = flowDir(
      {
        id: "quick",
        version: "1",
        stages: [
          { name: "intro", agent: "greeter", transitions: [{ to: "main" }] },
          { name: "main", transitions: [{ to: "main" }], agent: "assistant", timeout: `${stageTimeoutMs / 1000}s` },
        ],
      },
      { id: "patient", version: "1", stages: [{ name: "main", transitions: [{ to: "main" }], agent: "budgeted", timeout: "30s" }] },
    );
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "quick",
      "--agent", `assistant=${hanging.url}`,
      "--agent", `assistant=${healthy.url}`,
      "--agent", `budgeted=${budgeted.url}`,
      "--agent", `greeter=${greeter.url}`,
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([hanging?.close(), healthy?.close(), budgeted?.close(), greeter?.close()]);
    flows?.remove();
  });

  it("a hanging agent costs the turn its deadline and no more, and the next turn succeeds on another instance", async () => {
    await client.sendTurn({ sessionId: "hang-1", input: { text: "hello" } }); // the greeter's stage
    // Both instances are new, so the balancer tries the one without
    // latency samples next: the hanging one is reached within two turns.
    let failure: { err: ConnectError; elapsed: number } | undefined;
    for (let turn = 1; turn <= 2 && failure === undefined; turn++) {
      const t0 = performance.now();
      const res = await client.sendTurn({ sessionId: "hang-1", input: { text: `turn ${turn}` } }).catch((e: unknown) => ConnectError.from(e));
      if (res instanceof ConnectError) failure = { err: res, elapsed: performance.now() - t0 };
    }
    expect(failure, "a turn reached the hanging instance").toBeDefined();
    expect(failure!.err.code, failure!.err.rawMessage).toBe(Code.DeadlineExceeded);
    expect(failure!.err.rawMessage).toBe(`agent assistant at ${hanging.url} did not finish within ${stageTimeoutMs}ms`);
    expect(failure!.elapsed).toBeGreaterThanOrEqual(stageTimeoutMs - 5);
    expect(failure!.elapsed).toBeLessThan(stageTimeoutMs + 1500);
    // The agent's stream was cancelled, and the turn was not tried again.
    await hanging.until("the stream is cancelled", () => hanging.cancelled === 1);
    expect(hanging.turns).toBe(1);

    const next = await client.sendTurn({ sessionId: "hang-1", input: { text: "are you there?" } });
    expect(next.output).toBe("assistant: are you there?");
    const { steps } = await client.listSteps({ sessionId: "hang-1" });
    const last = steps.at(-1)!;
    expect(last.instance).toBe(healthy.url);
    expect(last.attempts).toBe(1);
    const failed = steps.find((s) => s.status === StepStatus.FAILED)!;
    expect(failed.instance).toBe(hanging.url);
    expect(failed.attempts).toBe(1);
    expect(failed.error?.code).toBe("deadline_exceeded");
    expect(durationMs(failed.latency!)).toBeGreaterThanOrEqual(stageTimeoutMs - 5);
    expect(hanging.turns).toBe(1);
  });

  it("gives the agent the caller's remaining deadline as its budget and cancels its stream when it passes", async () => {
    const before = budgeted.turns;
    const err = await client
      .sendTurn({ sessionId: "budget-1", flowId: "patient", input: { text: "hurry" } }, { timeoutMs: 1500 })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    await budgeted.until("the stream is cancelled", () => budgeted.cancelled === before + 1);
    const start = budgeted.starts.at(-1)!;
    const budget = durationMs(start.budget!);
    expect(budget).toBeLessThanOrEqual(1500);
    expect(budget).toBeGreaterThan(1000);
    expect(start.attempt).toBe(1);
  });

  it("cancels the agent's stream at once when the client cancels, and the session stays usable", async () => {
    budgeted.behaviour = answer;
    await client.sendTurn({ sessionId: "cancel-1", flowId: "patient", input: { text: "first" } });
    budgeted.behaviour = hang;
    const cancelledBefore = budgeted.cancelled;
    const turnsBefore = budgeted.turns;
    const abort = new AbortController();
    const pending = client.sendTurn({ sessionId: "cancel-1", input: { text: "never mind" } }, { signal: abort.signal }).catch((e: unknown) => ConnectError.from(e));
    await budgeted.until("the turn reaches the agent", () => budgeted.turns === turnsBefore + 1);
    const t0 = performance.now();
    abort.abort();
    await budgeted.until("the stream is cancelled", () => budgeted.cancelled === cancelledBefore + 1);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await pending as ConnectError).code).toBe(Code.Canceled);

    budgeted.behaviour = answer;
    const res = await client.sendTurn({ sessionId: "cancel-1", input: { text: "hello again" } });
    expect(res.output).toBe("budgeted: hello again");
  });
});
