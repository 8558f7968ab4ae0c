import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { BreakerState, RegistryService } from "../src/gen/switchboard/v1/registry_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { jsonLine, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { answer, failWith, TestAgent } from "./support/test-agent.js";

const failures = 3;
const coolDownMs = 1500;

/**
 * Circuit breakers: an agent instance that keeps failing is cut off, turns
 * fail fast or go to the stage's fallback agent, and a probe after the
 * cool-down brings the instance back once it recovers.
 */
describe("circuit breakers", () => {
  let flaky: TestAgent;
  let backup: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let registry: Client<typeof RegistryService>;

  let metricsUrl = "";
  const breakerOf = async (name: string) => (await registry.listAgents({ name })).instances.map((i) => i.breaker);

  beforeAll(async () => {
    flaky = await TestAgent.start("flaky", failWith(Code.Internal, "database down"));
    backup = await TestAgent.start("backup", answer);
    flows = flowDir(
      { id: "plain", version: "1", stages: [{ name: "main", transitions: [{ to: "main" }], agent: "flaky" }] },
      { id: "guarded", version: "1", stages: [{ name: "main", transitions: [{ to: "main" }], agent: "flaky", fallback_agent: "backup" }] },
    );
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "plain",
      "--agent", `flaky=${flaky.url}`,
      "--agent", `backup=${backup.url}`,
      "--breaker-failures", String(failures),
      "--breaker-cooldown", String(coolDownMs / 1000),
      "--metrics-port", "0",
    ]);
    const line = await orchestrator.waitForLine((l) => jsonLine(l)?.["msg"] === "metrics listening");
    metricsUrl = `http://127.0.0.1:${String(jsonLine(line)?.["port"])}/metrics`;
    const transport = createGrpcTransport({ baseUrl: orchestrator.url });
    client = createClient(OrchestratorService, transport);
    registry = createClient(RegistryService, transport);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([flaky?.close(), backup?.close()]);
    flows?.remove();
  });

  it("opens after N failures, keeps turns away from the instance, and closes after a successful probe", async () => {
    expect(await breakerOf("flaky")).toEqual([BreakerState.CLOSED]);
    for (let i = 1; i <= failures; i++) {
      const err = await client.sendTurn({ sessionId: `fail-${i}`, input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.Internal);
      expect((err as ConnectError).rawMessage).toBe(`agent flaky at ${flaky.url} failed: database down`);
    }
    const openedAt = performance.now();
    expect(flaky.turns).toBe(failures);
    expect(await breakerOf("flaky")).toEqual([BreakerState.OPEN]);
    // The metrics show it too (2: open).
    expect(await fetch(metricsUrl).then((r) => r.text())).toMatch(
      new RegExp(`switchboard_breaker_state\\{agent="flaky",instance="${flaky.url.replaceAll(".", "\\.")}"\\} 2`),
    );

    // Open: turns fail fast, naming the agent, and never reach the instance.
    for (let i = 0; i < 5; i++) {
      const err = await client.sendTurn({ sessionId: `fast-${i}`, input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).rawMessage).toMatch(/^agent flaky is unavailable: the circuit breakers of all its 1 instance\(s\) are open/);
    }
    expect(flaky.turns).toBe(failures);

    // With a fallback agent, the stage's turns go there instead.
    const rescued = await client.sendTurn({ sessionId: "rescued", flowId: "guarded", input: { text: "help" } });
    expect(rescued.output).toBe("backup: help");
    expect(rescued.agent).toBe("backup");
    const [step] = (await client.listSteps({ sessionId: "rescued" })).steps;
    expect(step?.agent).toBe("backup");
    expect(step?.details["fallback_for"]).toBe("flaky");
    expect(flaky.turns).toBe(failures);

    // The instance recovers; after the cool-down one probe goes through and closes the breaker.
    flaky.behaviour = answer;
    let res;
    for (let i = 0; res === undefined; i++) {
      res = await client.sendTurn({ sessionId: "probe", input: { text: "again" } }).catch(() => undefined);
      if (res === undefined) await new Promise((r) => setTimeout(r, 100));
      expect(i).toBeLessThan(100);
    }
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(coolDownMs - 50);
    expect(res.output).toBe("flaky: again");
    expect(flaky.turns).toBe(failures + 1);
    const probe = (await client.listSteps({ sessionId: "probe" })).steps.at(-1);
    expect(probe?.breaker).toBe("half_open");
    expect(await breakerOf("flaky")).toEqual([BreakerState.CLOSED]);

    const after = await client.sendTurn({ sessionId: "probe", input: { text: "and again" } });
    expect(after.output).toBe("flaky: and again");
    expect((await client.listSteps({ sessionId: "probe" })).steps.at(-1)?.breaker).toBe("closed");
  });
});
