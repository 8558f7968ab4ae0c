import { durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { BreakerState, InstanceHealth, RegistryService } from "../src/gen/switchboard/v1/registry_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { closedPort, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { answer, failWith, TestAgent } from "./support/test-agent.js";

const failures = 3;
const coolDownMs = 1000;

/**
 * Balancing, retries and health: turns spread over an agent's instances,
 * a broken or unreachable instance is routed around, and turns that failed
 * before any output are retried on another instance.
 */
describe("balancing across instances", () => {
  let good: TestAgent[];
  let broken: TestAgent;
  let lone: TestAgent;
  let refused: string;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let registry: Client<typeof RegistryService>;

  beforeAll(async () => {
    good = [await TestAgent.start("pool", answer), await TestAgent.start("pool", answer)];
    broken = await TestAgent.start("pool", failWith(Code.Unavailable, "overloaded"));
    lone = await TestAgent.start("lone", answer);
    refused = `http://127.0.0.1:${await closedPort()}`;
    flows = flowDir({ id: "mesh", version: "1", stages: [{ name: "main", transitions: [{ to: "main" }], agent: "pool", intent_agents: { lone: "lone" } }] });
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "mesh",
      ...[...good, broken].flatMap((a) => ["--agent", `pool=${a.url}`]),
      "--agent", `lone=${lone.url}`,
      "--agent", `lone=${refused}`,
      "--breaker-failures", String(failures),
      "--breaker-cooldown", String(coolDownMs / 1000),
      "--health-interval", "0.2",
    ]);
    const transport = createGrpcTransport({ baseUrl: orchestrator.url });
    client = createClient(OrchestratorService, transport);
    registry = createClient(RegistryService, transport);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([...(good ?? []), broken, lone].map((a) => a?.close()));
    flows?.remove();
  });

  it("with one of three instances broken, 200 turns all succeed and the broken one receives at most the probe traffic", async () => {
    const workers = 4;
    const perWorker = 50;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const outputs: string[] = [];
        for (let i = 0; i < perWorker; i++) {
          const res = await client.sendTurn({ sessionId: `spread-${w}`, input: { text: `turn ${i}` } });
          outputs.push(res.output);
        }
        return outputs;
      }),
    );
    const elapsed = performance.now() - t0;
    expect(results.flat()).toHaveLength(workers * perWorker);
    expect(results.flat().every((o) => o.startsWith("pool: turn "))).toBe(true);

    // The broken instance was tried (it looked fresh), then cut off: by its
    // latency cost at once, by its breaker after N failures; after that only
    // a probe per cool-down reaches it.
    expect(broken.turns).toBeGreaterThanOrEqual(1);
    expect(broken.turns).toBeLessThanOrEqual(failures + workers + Math.ceil(elapsed / coolDownMs));
    expect(good[0]!.turns + good[1]!.turns).toBe(workers * perWorker);
    expect(Math.min(good[0]!.turns, good[1]!.turns)).toBeGreaterThan(workers * perWorker * 0.2);

    // Each turn that reached the broken instance was retried once, on a good one.
    const steps = (await Promise.all(Array.from({ length: workers }, (_, w) => client.listSteps({ sessionId: `spread-${w}`, pageSize: 500 })))).flatMap(
      (r) => r.steps,
    );
    expect(steps).toHaveLength(workers * perWorker);
    expect(steps.filter((s) => s.attempts === 2)).toHaveLength(broken.turns);
    expect(steps.every((s) => s.instance === good[0]!.url || s.instance === good[1]!.url)).toBe(true);
  });

  it("routes around an instance that refuses connections and reports it NOT_SERVING", async () => {
    for (let i = 0; i < 20; i++) {
      const res = await client.sendTurn({ sessionId: "lonely", input: { text: `hi ${i}`, intent: "lone" } });
      expect(res.output).toBe(`lone: hi ${i}`);
    }
    const steps = (await client.listSteps({ sessionId: "lonely" })).steps;
    expect(steps.every((s) => s.instance === lone.url)).toBe(true);
    // At most the first turn, before the first health check, may have tried the dead one.
    expect(steps.filter((s) => s.attempts > 1).length).toBeLessThanOrEqual(1);

    const { instances } = await registry.listAgents({ name: "lone" });
    const byEndpoint = Object.fromEntries(instances.map((i) => [i.endpoint, i]));
    expect(byEndpoint[refused]?.health).toBe(InstanceHealth.NOT_SERVING);
    expect(byEndpoint[lone.url]?.health).toBe(InstanceHealth.SERVING);
    expect(byEndpoint[lone.url]?.breaker).toBe(BreakerState.CLOSED);
    expect(byEndpoint[lone.url]?.inFlight).toBe(0);
    expect(durationMs(byEndpoint[lone.url]!.recentLatency!)).toBeGreaterThanOrEqual(0);
    expect(byEndpoint[lone.url]?.source).toBe("static");
  });
});
