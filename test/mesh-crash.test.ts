import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OutputDelta, TurnStartSchema } from "../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { agentCallFactsOf } from "../src/core/errors.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry } from "../src/mesh/registry.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { type Proc, type RunningOrchestrator, startCrashingAgentProcess, startOrchestratorProcess } from "./support/process.js";
import { answer, TestAgent } from "./support/test-agent.js";

const notRetried = "after it had sent output; the turn was not retried because that output had already reached the caller";

/**
 * An agent process that crashes after sending part of its answer: the turn
 * is not retried (its output already reached the caller), and the caller
 * gets the partial output and a clear error.
 */
describe("an agent crashing mid-stream", () => {
  const procs: Proc[] = [];
  let healthy: TestAgent;
  let greeter: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;

  beforeAll(async () => {
    healthy = await TestAgent.start("crashy", answer);
    greeter = await TestAgent.start("greeter", answer);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await Promise.all([healthy?.close(), greeter?.close()]);
    flows?.remove();
  });

  it("is not retried; the client gets a clear error and the partial output lands in the step", async () => {
    const crashing = await startCrashingAgentProcess("crashy");
    procs.push(crashing);
    flows = flowDir({
      id: "crash",
      version: "1",
      stages: [
        { name: "intro", agent: "greeter", transitions: [{ to: "main" }] },
        { name: "main", transitions: [{ to: "main" }], agent: "crashy" },
      ],
    });
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "crash",
      "--agent", `greeter=${greeter.url}`,
      "--agent", `crashy=${crashing.url}`,
      "--agent", `crashy=${healthy.url}`,
      "--retry-attempts", "3",
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    await client.sendTurn({ sessionId: "crash-1", input: { text: "hello" } });

    // Both instances are new: the crashing one is reached within two turns.
    let failure: ConnectError | undefined;
    let healthyBefore = 0;
    for (let turn = 1; turn <= 2 && failure === undefined; turn++) {
      healthyBefore = healthy.turns;
      const res = await client.sendTurn({ sessionId: "crash-1", input: { text: `turn ${turn}` } }).catch((e: unknown) => ConnectError.from(e));
      if (res instanceof ConnectError) failure = res;
    }
    expect(failure, "a turn reached the crashing instance").toBeDefined();
    expect(failure!.code).toBe(Code.Unavailable);
    expect(failure!.rawMessage).toMatch(new RegExp(`^agent crashy at ${crashing.url} broke off the turn's stream \\(.+\\) ${notRetried}$`));
    expect(healthy.turns).toBe(healthyBefore); // not retried on the healthy instance
    expect(await crashing.exited).toBe(1);

    const failed = (await client.listSteps({ sessionId: "crash-1" })).steps.find((s) => s.status === StepStatus.FAILED)!;
    expect(failed.output).toBe("partial answer ");
    expect(failed.attempts).toBe(1);
    expect(failed.instance).toBe(crashing.url);
    expect(failed.error?.code).toBe("unavailable");

    const next = await client.sendTurn({ sessionId: "crash-1", input: { text: "still there?" } });
    expect(next.output).toBe("crashy: still there?");
  });

  it("streams the partial output to the caller before the error", async () => {
    const crashing = await startCrashingAgentProcess("crashy");
    procs.push(crashing);
    const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "crashy", endpoint: crashing.url }] });
    const mesh = new Mesh(registry, { retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 10 } });
    try {
      const deltas: OutputDelta[] = [];
      const err = await mesh
        .invoke({
          agent: "crashy",
          start: create(TurnStartSchema, { sessionId: "s", turnId: "t", input: { text: "hi" } }),
          signal: new AbortController().signal,
          timeoutMs: 10_000,
          onDelta: (d) => void deltas.push(d),
        })
        .then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(deltas.map((d) => d.text)).toEqual(["partial answer "]);
      expect(err?.code).toBe(Code.Unavailable);
      expect(err?.rawMessage).toContain(notRetried);
      expect(agentCallFactsOf(err)).toMatchObject({ agent: "crashy", instance: crashing.url, attempts: 1, output: "partial answer " });
    } finally {
      mesh.close();
    }
  });
});
