import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepKind, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { startCounterAgent } from "./support/agents.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";

type Orchestrator = Client<typeof OrchestratorService>;

/**
 * Sessions in MongoDB through the gRPC API, with two orchestrator replicas
 * sharing one database.
 */
describe("sessions in MongoDB", () => {
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_sessions_${randomBytes(4).toString("hex")}` };
  let agent: Awaited<ReturnType<typeof startCounterAgent>>;
  let replicas: RunningOrchestrator[] = [];
  let one: Orchestrator;
  let two: Orchestrator;

  beforeAll(async () => {
    agent = await startCounterAgent();
    replicas = await Promise.all([
      startOrchestratorProcess(["--agent", `echo=${agent.url}`], env),
      startOrchestratorProcess(["--agent", `echo=${agent.url}`], env),
    ]);
    [one, two] = replicas.map((r) => createClient(OrchestratorService, createGrpcTransport({ baseUrl: r.url }))) as [
      Orchestrator,
      Orchestrator,
    ];
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await agent?.close();
  });

  it("commits 50 concurrent turns on one session from two replicas as 50 consecutive versions, losing none", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? one : two).sendTurn({ sessionId: "busy", input: { text: `turn ${i}` } })),
    );
    const counts = results.map((r) => Number(r.session?.state?.["count"])).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const { session } = await one.getSession({ sessionId: "busy" });
    expect(session?.version).toBe(50n);
    expect(session?.state?.["count"]).toBe(50);
    const { snapshots } = await two.listSnapshots({ sessionId: "busy", pageSize: 100 });
    expect(snapshots.map((s) => s.version)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    expect(snapshots.map((s) => s.session?.state?.["count"])).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const { steps } = await one.listSteps({ sessionId: "busy", pageSize: 100 });
    expect(steps.filter((s) => s.status === StepStatus.OK).map((s) => s.version)).toEqual(
      Array.from({ length: 50 }, (_, i) => BigInt(i + 1)),
    );
  });

  it("applies a turn id sent 5 times concurrently once", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        (i % 2 === 0 ? one : two).sendTurn({ sessionId: "retried", turnId: "gateway-retry-1", input: { text: "pay" } }),
      ),
    );
    expect(new Set(results.map((r) => r.output))).toEqual(new Set(["count=1"]));
    expect(results.filter((r) => !r.replayed).length).toBeLessThanOrEqual(1);
    const { session } = await two.getSession({ sessionId: "retried" });
    expect(session?.version).toBe(1n);
    const { steps } = await one.listSteps({ sessionId: "retried" });
    expect(steps.filter((s) => s.status === StepStatus.OK)).toHaveLength(1);
    // A later retry of the same turn replays its first result, session included.
    const again = await one.sendTurn({ sessionId: "retried", turnId: "gateway-retry-1", input: { text: "pay" } });
    expect(again.replayed).toBe(true);
    expect(again.output).toBe("count=1");
    expect(again.session?.version).toBe(1n);
  });

  it("rolls back to an earlier version by committing a new one, and records it", async () => {
    for (let i = 0; i < 3; i++) await one.sendTurn({ sessionId: "undo", input: { text: "more" } });
    const { session } = await two.rollbackSession({ sessionId: "undo", version: 1n });
    expect(session?.version).toBe(4n);
    expect(session?.state?.["count"]).toBe(1);
    const next = await one.sendTurn({ sessionId: "undo", input: { text: "again" } });
    expect(next.output).toBe("count=2");
    expect(next.session?.version).toBe(5n);
    const { steps } = await one.listSteps({ sessionId: "undo" });
    const rollback = steps.find((s) => s.kind === StepKind.ROLLBACK);
    expect(rollback?.version).toBe(4n);
    expect(rollback?.details).toMatchObject({ rolled_back_to: "1", rolled_back_from: "3" });
    const { snapshots } = await two.listSnapshots({ sessionId: "undo" });
    expect(snapshots.map((s) => [s.version, s.session?.state?.["count"], s.reason])).toEqual([
      [1n, 1, "turn"],
      [2n, 2, "turn"],
      [3n, 3, "turn"],
      [4n, 1, "rollback"],
      [5n, 2, "turn"],
    ]);
    const bad = await one.rollbackSession({ sessionId: "undo", version: 9n }).catch((e: unknown) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
  });

  it("forks a new session from any snapshot", async () => {
    for (let i = 0; i < 3; i++) await one.sendTurn({ sessionId: "original", input: { text: "go" } });
    const { session } = await two.forkSession({ sessionId: "original", version: 2n, newSessionId: "branch" });
    expect(session?.id).toBe("branch");
    expect(session?.version).toBe(1n);
    expect(session?.state?.["count"]).toBe(2);
    expect(session?.origin).toMatchObject({ sessionId: "original", version: 2n });
    const next = await one.sendTurn({ sessionId: "branch", input: { text: "go" } });
    expect(next.output).toBe("count=3");
    expect((await one.getSession({ sessionId: "original" })).session?.version).toBe(3n);
    const taken = await one.forkSession({ sessionId: "original", newSessionId: "branch" }).catch((e: unknown) => ConnectError.from(e));
    expect((taken as ConnectError).code).toBe(Code.AlreadyExists);
  });

  it("deletes a session with its snapshots and steps", async () => {
    await one.sendTurn({ sessionId: "doomed", input: { text: "hi" } });
    await two.deleteSession({ sessionId: "doomed" });
    for (const call of [
      () => one.getSession({ sessionId: "doomed" }),
      () => two.listSteps({ sessionId: "doomed" }),
      () => one.listSnapshots({ sessionId: "doomed" }),
      () => two.deleteSession({ sessionId: "doomed" }),
    ]) {
      const err = await call().catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.NotFound);
    }
    // The id starts afresh, with none of the old records.
    const fresh = await one.sendTurn({ sessionId: "doomed", input: { text: "hi" } });
    expect(fresh.output).toBe("count=1");
    expect((await two.listSteps({ sessionId: "doomed" })).steps).toHaveLength(1);
  });

  it("stores state keys that look like operators or paths as they are", async () => {
    const patch = { $where: "sleep(1000)", "a.b": 2, nested: { $gt: "", "x.y": [1, { $ne: null }] } };
    await one.sendTurn({ sessionId: "tricky", input: { text: JSON.stringify(patch) } });
    const { session } = await two.getSession({ sessionId: "tricky" });
    expect(session?.state).toEqual(patch);
  });

  it("refuses a state above the limit with RESOURCE_EXHAUSTED and keeps the session as it was", async () => {
    await one.sendTurn({ sessionId: "big", input: { text: "hi" } });
    const err = await one.sendTurn({ sessionId: "big", input: { text: `grow ${300 * 1024}` } }).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toMatch(/the session state would grow to \d+ bytes, above the limit of 262144/);
    const { session } = await two.getSession({ sessionId: "big" });
    expect(session?.version).toBe(1n);
    expect(session?.state).toEqual({ count: 1 });
  });

  it("expires idle sessions like deleted ones", async () => {
    const shortLived = await startOrchestratorProcess(["--agent", `echo=${agent.url}`, "--session-ttl", "0.5"], env);
    try {
      const c = createClient(OrchestratorService, createGrpcTransport({ baseUrl: shortLived.url }));
      await c.sendTurn({ sessionId: "fleeting", input: { text: "hi" } });
      expect((await c.getSession({ sessionId: "fleeting" })).session?.version).toBe(1n);
      await new Promise((r) => setTimeout(r, 800));
      const err = await c.getSession({ sessionId: "fleeting" }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.NotFound);
      // A new turn starts a new session under the same id.
      const fresh = await c.sendTurn({ sessionId: "fleeting", input: { text: "hi" } });
      expect(fresh.session?.version).toBe(1n);
      expect(fresh.output).toBe("count=1");
    } finally {
      await shortLived.stop();
    }
  });
});
