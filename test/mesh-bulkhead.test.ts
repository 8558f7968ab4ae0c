import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { answer, Gate, TestAgent } from "./support/test-agent.js";

const maxTurns = 4;
const maxQueue = 4;
const maxCalls = 16;
// More slow turns than the whole orchestrator has slots for: without a
// per-agent bulkhead, they would hold every slot and the fast agent's turns
// would wait behind them.
const flood = maxCalls + 8;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
};

/**
 * Bulkheads: a slow agent saturating its own limit does not slow down the
 * turns served by another agent.
 */
describe("bulkheads", () => {
  let slow: TestAgent;
  let fast: TestAgent;
  const gate = new Gate();
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;

  beforeAll(async () => {
    slow = await TestAgent.start("slow", gate.behaviour);
    fast = await TestAgent.start("fast", answer);
    flows = flowDir({ id: "two", version: "1", stages: [{ name: "main", transitions: [{ to: "main" }], agent: "fast", intent_agents: { slow: "slow" } }] });
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "two",
      "--agent", `slow=${slow.url}`,
      "--agent", `fast=${fast.url}`,
      "--agent-max-turns", String(maxTurns),
      "--agent-max-queue", String(maxQueue),
      "--max-agent-calls", String(maxCalls),
      "--agent-timeout", "60",
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    gate.open();
    await orchestrator?.stop();
    await Promise.all([slow?.close(), fast?.close()]);
    flows?.remove();
  });

  /**
   * fastTurns runs n fast turns one after another on a session of their
   * own and returns their latencies, leaving out the first few turns, which
   * still overlap whatever happened just before.
   */
  let block = 0;
  const settling = 5;
  const fastTurns = async (n: number): Promise<number[]> => {
    const out: number[] = [];
    const sessionId = `fast-${block++}`;
    for (let i = 0; i < n + settling; i++) {
      const t0 = performance.now();
      const res = await client.sendTurn({ sessionId, input: { text: "ping" } });
      if (i >= settling) out.push(performance.now() - t0);
      expect(res.output).toBe("fast: ping");
    }
    return out;
  };

  /**
   * saturate floods the slow agent until its bulkhead is full (the limit
   * running, the queue full, the rest refused at once) and returns the
   * function that lets the slow turns finish.
   */
  const saturate = async (round: number): Promise<() => Promise<void>> => {
    gate.reset();
    const turnsBefore = slow.turns;
    const slowTurns = Array.from({ length: flood }, (_, i) =>
      client.sendTurn({ sessionId: `slow-${round}-${i}`, input: { text: "take your time", intent: "slow" } }).then(
        (r) => r,
        (e: unknown) => ConnectError.from(e),
      ),
    );
    const refused = await waitForRefusals(
      slowTurns.map((p) => p.then((r) => (r instanceof ConnectError ? r : undefined))),
      flood - maxTurns - maxQueue,
    );
    for (const err of refused) {
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toBe(`agent slow has ${maxTurns} turns running and ${maxQueue} waiting, its limit; try again shortly`);
    }
    await slow.until("the bulkhead fills", () => slow.active === maxTurns);
    return async () => {
      expect(slow.active).toBe(maxTurns);
      gate.open();
      const outcomes = await Promise.all(slowTurns);
      expect(outcomes.filter((r) => !(r instanceof ConnectError))).toHaveLength(maxTurns + maxQueue);
      expect(slow.turns - turnsBefore).toBe(maxTurns + maxQueue);
    };
  };

  it("a slow agent saturating its bulkhead does not change the latency of another agent's turns", { timeout: 120_000 }, async () => {
    await fastTurns(50); // warm up connections and JIT
    // Rounds of two short blocks, one without and one with the slow agent
    // saturated, in ABBA order. Each round compares the p50s of its two
    // blocks, and the verdict is the median of the rounds' ratios, so that
    // a burst of load from elsewhere on the machine (other tests run
    // alongside) that hits one block cannot decide it.
    const ratios: number[] = [];
    const all = { baseline: [] as number[], saturated: [] as number[] };
    for (let round = 0; round < 12; round++) {
      const saturatedFirst = round % 2 === 1;
      let baseline: number[] = [];
      if (!saturatedFirst) baseline = await fastTurns(25);
      const release = await saturate(round);
      const saturated = await fastTurns(25);
      await release();
      if (saturatedFirst) baseline = await fastTurns(25);
      ratios.push(median(saturated) / median(baseline));
      all.baseline.push(...baseline);
      all.saturated.push(...saturated);
    }
    expect(slow.maxActive).toBe(maxTurns);
    const summary = `p50 ${median(all.saturated).toFixed(2)}ms saturated vs ${median(all.baseline).toFixed(2)}ms baseline; per-round ratios ${ratios.map((r) => r.toFixed(2)).join(" ")}`;
    expect(median(ratios), summary).toBeLessThan(1.2);
  });
});

/**
 * waitForRefusals resolves with the first `n` refused turns, in the order
 * they settle.
 */
function waitForRefusals(turns: Array<Promise<ConnectError | undefined>>, n: number): Promise<ConnectError[]> {
  return new Promise((resolve, reject) => {
    const got: ConnectError[] = [];
    const timer = setTimeout(() => reject(new Error(`expected ${n} turns of the slow agent to be refused at once; ${got.length} were`)), 10_000);
    for (const t of turns) {
      void t.then((err) => {
        if (err === undefined || got.length >= n) return;
        got.push(err);
        if (got.length === n) {
          clearTimeout(timer);
          resolve(got);
        }
      });
    }
  });
}
