import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../src/gen/grpc/health/v1/health_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { connectClient } from "./support/converse-clients.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";

/**
 * Graceful shutdown: SIGTERM turns health to NOT_SERVING, refuses new turns,
 * lets running turns finish, ends streams with UNAVAILABLE (so clients
 * resume elsewhere), and exits 0.
 */
describe("SIGTERM drain", () => {
  let agent: RunningAgent;
  let orchestrator: RunningOrchestrator;
  let release: () => void = () => undefined;
  let started: () => void = () => undefined;
  const turnStarted = new Promise<void>((resolve) => (started = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    agent = await serveAgent({
      card: { name: "slow" },
      async handler(turn) {
        started();
        await released;
        return `finished: ${turn.text}`;
      },
    });
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`]);
  });

  afterAll(async () => {
    release();
    await orchestrator?.stop("SIGKILL");
    await agent?.close();
  });

  it("reports SERVING when ready, NOT_SERVING while draining, finishes the running turn and exits 0", async () => {
    const transport = createGrpcTransport({ baseUrl: orchestrator.url });
    const health = createClient(Health, transport);
    const client = createClient(OrchestratorService, transport);
    expect((await health.check({})).status).toBe(Status.SERVING);

    const stream = connectClient(orchestrator.url).converse();
    stream.send({ kind: { case: "open", value: { sessionId: "streaming" } } });
    await stream.waitForKind("opened");
    const running = client.sendTurn({ sessionId: "in-flight", input: { text: "take your time" } });
    await turnStarted;
    orchestrator.child.kill("SIGTERM");
    await orchestrator.waitForLine((l) => l.includes("draining"));

    expect((await health.check({})).status).toBe(Status.NOT_SERVING);
    const refused = await client.sendTurn({ sessionId: "late", input: { text: "hi" } }).catch((e: unknown) => e);
    expect(ConnectError.from(refused).code).toBe(Code.Unavailable);
    expect(ConnectError.from(refused).rawMessage).toContain("shutting down");
    stream.send({ kind: { case: "turn", value: { turnId: "t1", input: { text: "hi" } } } });
    const failed = await stream.waitForKind("failed");
    expect(failed.kind.case === "failed" && failed.kind.value.code).toBe("unavailable");

    release();
    const res = await running;
    expect(res.output).toBe("finished: take your time");
    expect(res.session?.version).toBe(1n);
    const end = await stream.ended;
    expect(end.code).toBe(Code.Unavailable);
    expect(end.message).toContain("reconnect (to another replica) with resume_after_seq");
    expect(await orchestrator.exited).toBe(0);
  });
});
