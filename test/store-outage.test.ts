import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { startCounterAgent } from "./support/agents.js";
import { FerretDb } from "./support/ferretdb.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";

/**
 * The database goes away and comes back: turns fail fast with UNAVAILABLE
 * meanwhile, the orchestrator keeps running, and it recovers by itself.
 * This test stops and restarts its own FerretDB, whatever MONGODB_URI says.
 */
describe("database outage", () => {
  let db: FerretDb;
  let agent: Awaited<ReturnType<typeof startCounterAgent>>;
  let orchestrator: RunningOrchestrator;

  beforeAll(async () => {
    db = await FerretDb.launch();
    agent = await startCounterAgent();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`], { MONGODB_URI: db.uri });
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.close();
    await db?.destroy();
  });

  it("answers UNAVAILABLE within the turn's deadline while the database is down, and recovers without a restart", { timeout: 90_000 }, async () => {
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    expect((await client.sendTurn({ sessionId: "outage", input: { text: "before" } })).output).toBe("count=1");

    await db.stop();
    const deadlineMs = 8_000;
    const started = Date.now();
    const err = await client
      .sendTurn({ sessionId: "outage", input: { text: "during" } }, { timeoutMs: deadlineMs })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toContain("the session store is unavailable");
    expect(Date.now() - started).toBeLessThan(deadlineMs);
    expect(orchestrator.child.exitCode).toBeNull();

    await db.start();
    // The driver reconnects on its own; the first turns may still race it.
    let res;
    for (let i = 0; i < 60 && res === undefined; i++) {
      res = await client.sendTurn({ sessionId: "outage", input: { text: "after" } }).catch(() => undefined);
      if (res === undefined) await new Promise((r) => setTimeout(r, 250));
    }
    expect(res?.output).toBe("count=2");
    expect(res?.session?.version).toBe(2n);
  });
});
