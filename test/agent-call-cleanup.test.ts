import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { jsonLine, type Proc, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

/**
 * What an agent call leaves behind once the turn is over: nothing. Each
 * call's deadline is a timer that holds the call (its request with the
 * session's history among it) until it is stopped; a call read to its
 * end stops it, a call left at the agent's result kept it for the rest of
 * the stage's budget. The orchestrator's own gauge of live timers
 * (`switchboard_nodejs_active_resources{type="Timeout"}`) shows it.
 */
describe("agent calls", () => {
  let agent: Proc & { url: string };
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let metricsUrl: string;

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    flows = flowDir({ id: "patient", version: "1", stages: [{ name: "main", agent: "echo", transitions: [{ to: "main" }], timeout: "600s" }] });
    orchestrator = await startOrchestratorProcess(["--flows", flows.dir, "--default-flow", "patient", "--agent", `echo=${agent.url}`, "--metrics-port", "0"]);
    const line = await orchestrator.waitForLine((l) => jsonLine(l)?.["msg"] === "metrics listening");
    metricsUrl = `http://127.0.0.1:${Number(jsonLine(line)?.["port"])}/metrics`;
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.stop();
    flows?.remove();
  });

  const liveTimers = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const line = text.split("\n").find((l) => l.startsWith('switchboard_nodejs_active_resources{type="Timeout"}'));
    return Number(line?.split(" ").at(-1) ?? 0);
  };

  it("keep no timer once their turn is over, however long the stage's budget", async () => {
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    // The first turn opens the connection to the agent, with its own timers.
    await client.sendTurn({ sessionId: "cleanup", input: { text: "hello" } });
    const before = await liveTimers();
    for (let i = 0; i < 20; i++) await client.sendTurn({ sessionId: "cleanup", input: { text: `turn ${i}` } });
    // 20 calls, each with a 600 s deadline: none of them may still hold one.
    expect(await liveTimers()).toBeLessThan(before + 5);
  });
});
