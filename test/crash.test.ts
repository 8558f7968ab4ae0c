import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { startCounterAgent } from "./support/agents.js";
import { startOrchestratorProcess } from "./support/process.js";

/**
 * Crash consistency: an orchestrator killed with SIGKILL in the middle of
 * commits, again and again, leaves every session whole — its version, its
 * snapshots and its steps agree.
 */
describe("SIGKILL during commits", () => {
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_crash_${randomBytes(4).toString("hex")}` };
  let agent: Awaited<ReturnType<typeof startCounterAgent>>;
  const sessions = ["crash-a", "crash-b", "crash-c", "crash-d"];

  beforeAll(async () => {
    agent = await startCounterAgent();
  });

  afterAll(async () => {
    await agent?.close();
  });

  it("keeps every session consistent across 5 kills", { timeout: 120_000 }, async () => {
    for (let round = 0; round < 5; round++) {
      const orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`], env);
      const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
      let committed = 0;
      let stop = false;
      // Each session takes turns back to back until the process dies.
      const loops = sessions.map(async (sessionId) => {
        while (!stop) {
          try {
            await client.sendTurn({ sessionId, input: { text: "tick" } });
            committed++;
          } catch {
            return;
          }
        }
      });
      // Kill once some turns went through, at a point that varies by round.
      while (committed < 8 + round * 3) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, round * 7));
      orchestrator.child.kill("SIGKILL");
      stop = true;
      await orchestrator.exited;
      await Promise.all(loops);
    }

    const orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`], env);
    try {
      const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
      for (const sessionId of sessions) {
        const { session } = await client.getSession({ sessionId });
        const version = Number(session?.version);
        expect(version).toBeGreaterThan(0);
        // The counter agent adds one per turn: state and version agree.
        expect(session?.state?.["count"]).toBe(version);
        const { snapshots } = await client.listSnapshots({ sessionId, pageSize: 1000 });
        expect(snapshots.map((s) => Number(s.version))).toEqual(Array.from({ length: version }, (_, i) => i + 1));
        expect(snapshots.map((s) => s.session?.state?.["count"])).toEqual(Array.from({ length: version }, (_, i) => i + 1));
        const { steps } = await client.listSteps({ sessionId, pageSize: 1000 });
        const ok = steps.filter((s) => s.status === StepStatus.OK);
        expect(ok.map((s) => Number(s.version))).toEqual(Array.from({ length: version }, (_, i) => i + 1));
        // And the session goes on.
        const next = await client.sendTurn({ sessionId, input: { text: "after" } });
        expect(next.output).toBe(`count=${version + 1}`);
      }
    } finally {
      await orchestrator.stop();
    }
  });
});
