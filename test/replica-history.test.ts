import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService, type SessionEvent } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { startCounterAgent } from "./support/agents.js";
import { connectClient } from "./support/converse-clients.js";
import { historyFacts } from "./support/history-facts.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";

/**
 * Two replicas on one database, clients sending every turn to both at once
 * (a gateway retrying on another replica), and replicas killed with SIGKILL
 * between rounds: afterwards every replica replays the same history.
 */
describe("one event history on every replica", () => {
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_history_${randomBytes(4).toString("hex")}` };
  let agent: Awaited<ReturnType<typeof startCounterAgent>>;
  const replicas: RunningOrchestrator[] = [];
  const start = () => startOrchestratorProcess(["--agent", `echo=${agent.url}`], env);
  const client = (r: RunningOrchestrator) => createClient(OrchestratorService, createGrpcTransport({ baseUrl: r.url }));

  beforeAll(async () => {
    agent = await startCounterAgent();
    replicas.push(await start(), await start());
  });
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await agent?.close();
  });

  /** replay reads a session's history from a replica: WatchSession from after_seq 0, up to `opened`. */
  async function replay(r: RunningOrchestrator, sessionId: string): Promise<SessionEvent[]> {
    const watcher = connectClient(r.url).watch({ sessionId, afterSeq: 0n });
    await watcher.waitForKind("opened");
    watcher.cancel();
    return watcher.history();
  }

  it("replays the same events at the same seqs from each replica, strictly in order, with no failed event for a committed turn", { timeout: 240_000 }, async () => {
    const sessions = ["h-a", "h-b", "h-c"];
    const rounds = 15;
    for (let round = 1; round <= rounds; round++) {
      const killing = round % 5 === 0 ? round % 2 : undefined;
      const sends = sessions.flatMap((sessionId) =>
        replicas.map((r) => client(r).sendTurn({ sessionId, turnId: `r${round}`, input: { text: "tick" } }).then(() => true, () => false)),
      );
      if (killing !== undefined) {
        const victim = replicas[killing] as RunningOrchestrator;
        await new Promise((resolve) => setTimeout(resolve, 3 * round));
        victim.child.kill("SIGKILL");
        await victim.exited;
      }
      const ok = await Promise.all(sends);
      // Every round's turn went through on at least one replica.
      for (let i = 0; i < sessions.length; i++) expect(ok[2 * i] === true || ok[2 * i + 1] === true).toBe(true);
      if (killing !== undefined) replicas[killing] = await start();
    }

    for (const sessionId of sessions) {
      const { session } = await client(replicas[0] as RunningOrchestrator).getSession({ sessionId });
      const histories = await Promise.all(replicas.map((r) => replay(r, sessionId)));
      for (const history of histories) {
        expect(history.every((e, i) => i === 0 || e.seq > (history[i - 1] as SessionEvent).seq)).toBe(true);
        const completed = history.filter((e) => e.kind.case === "completed");
        // One completed event per committed version, each turn once.
        expect(completed.length).toBe(Number(session?.version));
        expect(new Set(completed.map((e) => e.turnId)).size).toBe(completed.length);
        const committed = new Set(completed.map((e) => e.turnId));
        expect(history.filter((e) => e.kind.case === "failed" && committed.has(e.turnId)).map((e) => e.turnId)).toEqual([]);
      }
      expect(historyFacts(histories[1] as SessionEvent[])).toEqual(historyFacts(histories[0] as SessionEvent[]));
      // The counter agent counted every committed turn once.
      expect(session?.state?.["count"]).toBe(Number(session?.version));
    }
  });
});
