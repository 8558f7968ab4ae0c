import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlowSchema } from "../../src/gen/switchboard/v1/flow_pb.js";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { RegistryService } from "../../src/gen/switchboard/v1/registry_pb.js";
import type { SessionStore } from "../../src/core/ports.js";
import { createLogger } from "../../src/log.js";
import type { RegistryStore } from "../../src/mesh/registry-store.js";
import { FlowCatalog } from "../../src/server/flow-catalog.js";
import { type Orchestrator, startOrchestrator } from "../../src/server/orchestrator.js";
import { answer, TestAgent } from "./test-agent.js";

/**
 * ReplicaStores are the stores of one orchestrator replica: its own handles
 * on the database every replica shares.
 */
export interface ReplicaStores {
  registryStore: RegistryStore;
  store: SessionStore;
}

const refreshMs = 200;

/**
 * registryReplicaSuite shows that replicas sharing one database share the
 * registry: an agent registered through replica 1 serves turns sent to
 * replica 2, and its deregistration reaches replica 2 within the refresh
 * interval. `connect` gives each replica its stores.
 */
export function registryReplicaSuite(name: string, connect: () => Promise<ReplicaStores>) {
  describe(`two orchestrator replicas on one ${name} database`, () => {
    const replicas: Orchestrator[] = [];
    let agent: TestAgent | undefined;

    const start = async () => {
      const flows = new FlowCatalog("replicated");
      flows.add(create(FlowSchema, { id: "replicated", version: "1", stages: [{ name: "main", agent: "shared", transitions: [{ to: "main" }] }] }));
      const o = await startOrchestrator({
        host: "127.0.0.1",
        port: 0,
        flows,
        agents: [],
        ...(await connect()),
        registryRefreshMs: refreshMs,
        sessionTtlMs: 60_000,
        agentTimeoutMs: 10_000,
        drainTimeoutMs: 1000,
        logger: createLogger({ level: "silent", pretty: false }),
      });
      replicas.push(o);
      return `http://127.0.0.1:${o.port}`;
    };

    let url1 = "";
    let url2 = "";
    beforeAll(async () => {
      url1 = await start();
      url2 = await start();
    });

    afterAll(async () => {
      await agent?.close();
      await Promise.all(replicas.map((r) => r.drain()));
    });

    /** until polls `check` until it holds; a safety net bounds the wait. */
    const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000) => {
      const t0 = performance.now();
      while (!(await check())) {
        if (performance.now() - t0 > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs}ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return performance.now() - t0;
    };

    it("routes turns sent to replica 2 to an agent registered through replica 1, until it deregisters", async () => {
      const transport2 = createGrpcTransport({ baseUrl: url2 });
      const registry2 = createClient(RegistryService, transport2);
      const client2 = createClient(OrchestratorService, transport2);
      const listed = async () => (await registry2.listAgents({ name: "shared" })).instances.length > 0;

      agent = await TestAgent.start("shared", answer, { orchestrator: url1, leaseMs: 10_000 });
      const seenAfter = await until("replica 2 lists the agent", listed);
      expect(seenAfter).toBeLessThan(refreshMs * 10);
      const res = await client2.sendTurn({ sessionId: `replicated-${Date.now()}`, input: { text: "hi" } });
      expect(res.output).toBe("shared: hi");
      expect(agent.turns).toBe(1);

      await agent.close(); // deregisters through replica 1
      await until("replica 2 drops the agent", async () => !(await listed()));
      const err = await client2.sendTurn({ sessionId: `replicated-gone-${Date.now()}`, input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).rawMessage).toContain("agent shared has no live instance");
    });
  });
}
