import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SendTurnResponse } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type ConverseClient, connectClient, type EventStream, grpcJsClient } from "./support/converse-clients.js";
import { type Proc, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

const streams = 1000;
const turns = 3;

/**
 * Many conversations at once on one orchestrator process: 1,000 Converse
 * streams (half over connect-node, half over grpc-js, each library on one
 * HTTP/2 connection), each a 3-turn conversation with the echo agent
 * process. How fast is for the benchmarks; this proves they all complete,
 * each with its own answers.
 */
describe("Converse under load", () => {
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;
  let clients: ConverseClient[];

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    // Every stream's turn may run at once: the bulkhead must not be what is measured.
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`, "--agent-max-turns", "1024", "--agent-max-queue", "1024"]);
    clients = [connectClient(orchestrator.url), grpcJsClient(`127.0.0.1:${orchestrator.port}`)];
  });

  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await orchestrator?.stop();
    await agent?.stop();
  });

  const converse = async (client: ConverseClient, i: number): Promise<SendTurnResponse[]> => {
    const stream: EventStream = client.converse();
    stream.send({ kind: { case: "open", value: { sessionId: `load-${i}` } } });
    const results: SendTurnResponse[] = [];
    for (let t = 1; t <= turns; t++) {
      stream.send({ kind: { case: "turn", value: { turnId: `t${t}`, input: { text: `message ${t} of conversation ${i}` } } } });
      const done = await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === `t${t}`, 0, 120_000);
      if (done.kind.case === "completed" && done.kind.value.result !== undefined) results.push(done.kind.value.result);
    }
    stream.end();
    const end = await stream.ended;
    if (end.code !== 0) throw new Error(`conversation ${i} over ${client.name} ended with ${JSON.stringify(end)}`);
    return results;
  };

  it(`runs ${streams} concurrent streams of ${turns} turns each`, { timeout: 240_000 }, async () => {
    const all = await Promise.all(Array.from({ length: streams }, (_, i) => converse(clients[i % 2] as ConverseClient, i)));
    expect(all).toHaveLength(streams);
    all.forEach((results, i) => {
      expect(results.map((r) => r.session?.version)).toEqual([1n, 2n, 3n]);
      expect(results.map((r) => r.output)).toEqual([
        `Hello! I am the echo agent. You said: message 1 of conversation ${i}`,
        `You said: message 2 of conversation ${i}`,
        `You said: message 3 of conversation ${i}`,
      ]);
      expect(results.every((r) => r.sessionId === `load-${i}`)).toBe(true);
    });
  });
});
