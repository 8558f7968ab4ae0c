import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { connectClient } from "./support/converse-clients.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { jsonLine, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { Gate, TestAgent } from "./support/test-agent.js";

const retryHint = /the orchestrator is overloaded and takes no new turns: this replica is running 2 turns, its limit of turns in flight; running turns go on; retry in \d+ms or on another replica/;

/**
 * Past its admission limit an orchestrator refuses NEW turns — from
 * SendTurn and from a Converse stream alike — with RESOURCE_EXHAUSTED and
 * a hint of when to retry, while the turns it is running finish.
 */
describe("the admission limit", () => {
  let agent: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator | undefined;

  afterAll(async () => {
    await orchestrator?.stop("SIGKILL");
    await agent?.close();
    flows?.remove();
  });

  it("refuses a third turn with RESOURCE_EXHAUSTED and a retry hint while two held turns run, and the two finish", async () => {
    const gate = new Gate();
    agent = await TestAgent.start("holder", gate.behaviour);
    flows = flowDir({ id: "hold", version: "1", stages: [{ name: "main", agent: "holder", transitions: [{ to: "main" }] }] });
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "hold",
      "--agent", `holder=${agent.url}`,
      "--max-turns-in-flight", "2",
      "--metrics-port", "0",
    ]);
    const metricsPort = Number(jsonLine(await orchestrator.waitForLine((l) => jsonLine(l)?.["msg"] === "metrics listening"))?.["port"]);
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));

    const running = [1, 2].map((i) => client.sendTurn({ sessionId: `held-${i}`, input: { text: `turn ${i}` } }).catch((e: unknown) => ConnectError.from(e)));
    await agent.until("two turns held", () => agent.active === 2);

    // A third SendTurn is refused at once, with the hint in its message and its trailers.
    const refused = await client.sendTurn({ sessionId: "third", input: { text: "three" } }).catch((e: unknown) => ConnectError.from(e));
    expect(refused).toBeInstanceOf(ConnectError);
    if (!(refused instanceof ConnectError)) return;
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(refused.rawMessage).toMatch(retryHint);
    expect(refused.metadata.get("retry-after")).toBe("1");

    // A Converse turn too; the stream stays open.
    const stream = connectClient(orchestrator.url).converse();
    stream.send({ kind: { case: "open", value: { sessionId: "third-c" } } });
    await stream.waitForKind("opened");
    stream.send({ kind: { case: "turn", value: { turnId: "c1", input: { text: "three" } } } });
    const failed = await stream.waitFor((e) => e.turnId === "c1" && (e.kind.case === "failed" || e.kind.case === "completed"));
    expect(failed.kind.case).toBe("failed");
    if (failed.kind.case !== "failed") return;
    expect(failed.kind.value.code).toBe("resource_exhausted");
    expect(failed.kind.value.message).toMatch(retryHint);
    // The refused turns never reached the agent.
    expect(agent.turns).toBe(2);

    // The running turns were not touched: they finish as usual.
    gate.open();
    const done = await Promise.all(running);
    for (const [i, res] of done.entries()) {
      if (res instanceof ConnectError) throw new Error(`held turn ${i + 1} failed: ${res.message}`);
      expect(res.output).toBe(`done: turn ${i + 1}`);
    }
    // With room again, the stream's next turn runs.
    stream.send({ kind: { case: "turn", value: { turnId: "c2", input: { text: "now" } } } });
    const completed = await stream.waitFor((e) => e.turnId === "c2" && (e.kind.case === "failed" || e.kind.case === "completed"));
    expect(completed.kind.case).toBe("completed");
    stream.end();
    expect((await stream.ended).code).toBe(0);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_limit_rejections_total\{limit="turns_in_flight"\} 2\b/);
  });
});
