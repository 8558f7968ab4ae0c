import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll } from "vitest";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { RolloutService } from "../../src/gen/switchboard/v1/rollout_pb.js";
import { Action, type RunningAgent, serveAgent } from "../../src/sdk/index.js";
import { createLogger } from "../../src/log.js";
import { FlowCatalog } from "../../src/server/flow-catalog.js";
import type { AuthSettings } from "../../src/server/auth.js";
import { Metrics } from "../../src/server/metrics.js";
import { type Orchestrator, startOrchestrator } from "../../src/server/orchestrator.js";
import type { SessionStore } from "../../src/core/ports.js";
import type { RolloutStore } from "../../src/core/rollout-store.js";
import { LogLines } from "./in-process.js";

/**
 * splitFlow is version VERSION of the flow "split": one stage that talks
 * through AGENT until the caller says "bye" (completed) or "human" (the
 * session goes to the hand-off stage "human").
 */
export function splitFlow(version: string, agent: string): object {
  return {
    id: "split",
    version,
    initial_stage: "talk",
    outcomes: { hand_off_stages: ["human"], contained_stages: ["talk"] },
    stages: [
      { name: "talk", agent, transitions: [{ to: "human", when: "has(state.human) && state.human" }, { to: "talk" }] },
      { name: "human", agent: "good", wait_reason: "a colleague takes the call", transitions: [{ to: "human" }] },
    ],
  };
}

/**
 * splitFlowsDir writes split@1 (served by "good") and split@2 (served by
 * "bad") to a new directory.
 */
export function splitFlowsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-rollout-"));
  writeFileSync(join(dir, "split-1.json"), JSON.stringify(splitFlow("1", "good")));
  writeFileSync(join(dir, "split-2.json"), JSON.stringify(splitFlow("2", "bad")));
  return dir;
}

/**
 * startSplitAgents serves "good", which answers every turn, and "bad",
 * which fails every turn whose text ends in a multiple of 3 ("turn 3"):
 * with three turns per session, a third of its turns. Both end the
 * session on "bye" and hand off on "human".
 */
export async function startSplitAgents(): Promise<{ good: RunningAgent; bad: RunningAgent; close(): Promise<void> }> {
  const answer = (name: string, failThirds: boolean) =>
    serveAgent({
      card: { name },
      host: "127.0.0.1",
      async handler(turn) {
        const n = Number(/(\d+)$/.exec(turn.text)?.[1] ?? "1");
        if (failThirds && n % 3 === 0) throw new ConnectError(`${name} cannot answer turn ${n}`, Code.FailedPrecondition);
        if (/\bbye\b/.test(turn.text)) return { text: "goodbye", next: { action: Action.END } };
        if (/\bhuman\b/.test(turn.text)) return { text: "a colleague will take over", statePatch: { human: true } };
        return { text: `${name} heard ${turn.text}` };
      },
    });
  const good = await answer("good", false);
  const bad = await answer("bad", true);
  return {
    good,
    bad,
    async close() {
      await good.close();
      await bad.close();
    },
  };
}

/**
 * Replica is an orchestrator serving the split flows, with clients for its
 * two services.
 */
export interface Replica {
  readonly orchestrator: Orchestrator;
  readonly url: string;
  readonly turns: Client<typeof OrchestratorService>;
  readonly rollouts: Client<typeof RolloutService>;
  readonly logs: LogLines;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/**
 * startReplica starts an in-process orchestrator on a loopback socket with
 * the given stores (memory ones when omitted).
 */
export async function startReplica(opts: {
  flowsDir: string;
  agents: { good: RunningAgent; bad: RunningAgent };
  store?: SessionStore;
  rolloutStore?: RolloutStore;
  rolloutRefreshMs?: number;
  rolloutGuardIntervalMs?: number;
  /** Bearer tokens; none (no authentication) when omitted. */
  auth?: AuthSettings;
  /** The token the replica's clients send. */
  token?: string;
}): Promise<Replica> {
  const flows = new FlowCatalog("split");
  flows.loadDirectory(opts.flowsDir);
  const logs = new LogLines();
  const metrics = new Metrics({ defaultMetrics: false });
  const orchestrator = await startOrchestrator({
    host: "127.0.0.1",
    port: 0,
    flows,
    agents: [
      { name: "good", endpoint: opts.agents.good.url },
      { name: "bad", endpoint: opts.agents.bad.url },
    ],
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.rolloutStore ? { rolloutStore: opts.rolloutStore } : {}),
    rolloutRefreshMs: opts.rolloutRefreshMs ?? 100,
    rolloutGuardIntervalMs: opts.rolloutGuardIntervalMs ?? 0,
    sessionTtlMs: 3_600_000,
    agentTimeoutMs: 10_000,
    drainTimeoutMs: 2_000,
    logger: createLogger({ level: "warn", destination: logs }),
    operability: { metrics, ...(opts.auth ? { auth: opts.auth } : {}) },
  });
  const url = `http://127.0.0.1:${orchestrator.port}`;
  const token = opts.token;
  const transport = createGrpcTransport({
    baseUrl: url,
    interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
  });
  return {
    orchestrator,
    url,
    turns: createClient(OrchestratorService, transport),
    rollouts: createClient(RolloutService, transport),
    logs,
    metrics,
    close: () => orchestrator.drain(),
  };
}

/**
 * inBatches runs `task` for 0..count-1, `width` at a time.
 */
export async function inBatches<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) out[i] = await task(i);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return out;
}

/** SplitAgents are the agents startSplitAgents serves. */
export type SplitAgents = Awaited<ReturnType<typeof startSplitAgents>>;

/**
 * splitMesh starts the split agents and writes the split flows before a
 * test file's tests, and removes them after; the getters return them.
 */
export function splitMesh(): { agents: () => SplitAgents; flowsDir: () => string } {
  let agents: SplitAgents | undefined;
  let dir = "";
  beforeAll(async () => {
    agents = await startSplitAgents();
    dir = splitFlowsDir();
  });
  afterAll(async () => {
    await agents?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });
  return { agents: () => agents as SplitAgents, flowsDir: () => dir };
}
