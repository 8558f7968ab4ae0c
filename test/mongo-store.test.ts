import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { BSON, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Engine } from "../src/core/engine.js";
import { systemClock } from "../src/core/ports.js";
import { SendTurnResponseSchema } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, SessionStatus, StepSchema } from "../src/gen/switchboard/v1/session_pb.js";
import { TurnInputSchema } from "../src/gen/switchboard/v1/turn_pb.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry } from "../src/mesh/registry.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { FlowCatalog } from "../src/server/flow-catalog.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { turnWindow } from "../src/store/mongo-turn-window.js";
import { startCounterAgent } from "./support/agents.js";
import { repoRoot } from "./support/process.js";
import { storeContract } from "./support/store-contract.js";

const stores: MongoStore[] = [];
const database = `switchboard_contract_${randomBytes(4).toString("hex")}`;

storeContract("mongodb", async () => {
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset), sleep: systemClock.sleep, advance: (ms: number) => void (offset += ms) };
  const store = await MongoStore.open({ uri: inject("mongoUri"), database, clock, sweepIntervalMs: 0 });
  stores.push(store);
  return { store, clock };
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

describe("MongoStore on a real server", () => {
  const uri = inject("mongoUri");
  const db = `switchboard_growth_${randomBytes(4).toString("hex")}`;
  let agent: Awaited<ReturnType<typeof startCounterAgent>>;
  let raw: MongoClient;

  beforeAll(async () => {
    agent = await startCounterAgent();
    raw = new MongoClient(uri);
    await raw.connect();
  });

  afterAll(async () => {
    await agent?.close();
    await raw?.close();
  });

  const bytesOf = async (sessionId: string) => {
    const docs = await raw.db(db).collection("session_versions").find({ session: sessionId }).toArray();
    return { total: docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0), largest: Math.max(...docs.map((d) => BSON.calculateObjectSize(d))) };
  };

  it("writes bytes linearly in the number of turns: 1,000 turns cost about twice 500", async () => {
    const store = await MongoStore.open({ uri, database: db, sweepIntervalMs: 0 });
    stores.push(store);
    const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "echo", endpoint: agent.url }] });
    await registry.start();
    const pool = new Mesh(registry, {});
    const flows = new FlowCatalog("assistant");
    flows.loadDirectory(join(repoRoot, "flows"));
    let n = 0;
    const engine = new Engine({
      store,
      invoker: pool,
      flows,
      clock: systemClock,
      newId: () => `id-${n++}`,
      sessionTtlMs: 3_600_000,
      defaultAgentTimeoutMs: 10_000,
    });
    const turn = (i: number) =>
      engine.runTurn(
        { sessionId: "long", accountId: "", flowId: "", turnId: "", input: create(TurnInputSchema, { text: `turn number ${i}` }), tenant: "", metadata: {} },
        new AbortController().signal,
        undefined,
      );
    for (let i = 0; i < 500; i++) await turn(i);
    const half = await bytesOf("long");
    for (let i = 500; i < 1000; i++) await turn(i);
    const full = await bytesOf("long");
    expect((await store.get("long"))?.version).toBe(1000n);
    // Quadratic growth (every version repeating the transcript) would make this 4.
    expect(full.total / half.total).toBeLessThan(2.2);
    expect(full.largest).toBeLessThan(16 * 1024);
    pool.close();
    registry.stop();
  }, 180_000);

  it("reads what another replica committed, however far its own knowledge lags", async () => {
    const a = await MongoStore.open({ uri, database: db, sweepIntervalMs: 0 });
    const b = await MongoStore.open({ uri, database: db, sweepIntervalMs: 0 });
    try {
      const id = `replicas-${randomBytes(4).toString("hex")}`;
      const at = (version: bigint) =>
        create(SessionSchema, {
          id, flowId: "f", flowVersion: "1", stage: "s", state: { v: Number(version) }, status: SessionStatus.ACTIVE, version,
          updateTime: timestampFromDate(new Date()), expireTime: timestampFromDate(new Date(Date.now() + 60_000)),
        });
      const commit = (store: MongoStore, version: bigint) =>
        store.commit({ session: at(version), expectedVersion: version - 1n, reason: "turn", steps: [] });
      const versionIn = async (store: MongoStore) => (await store.load(id, "")).session?.version;

      await commit(a, 1n); // a knows version 1
      await commit(b, 2n); // one ahead of what a knows
      expect(await versionIn(a)).toBe(2n);
      await commit(b, 3n);
      await commit(b, 4n);
      await commit(b, 5n); // well ahead of what a knows
      expect(await versionIn(a)).toBe(5n);
      await commit(a, 6n);
      expect(await versionIn(b)).toBe(6n);
      // Deleted and started again by b: a new incarnation, which a (still
      // knowing version 6 of the old one) must not mistake for the old one.
      expect(await b.delete(id)).toBe(true);
      await commit(b, 1n);
      await commit(b, 2n);
      expect((await a.load(id, "")).session?.state).toEqual({ v: 2 });
      expect(await b.delete(id)).toBe(true);
      expect(await versionIn(a)).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it(`remembers the turn ids of the last ${turnWindow} versions for replays`, { timeout: 120_000 }, async () => {
    const store = await MongoStore.open({ uri, database: db, sweepIntervalMs: 0 });
    stores.push(store);
    const id = "window";
    for (let v = 1n; v <= BigInt(turnWindow + 2); v++) {
      const session = create(SessionSchema, { id, flowId: "f", flowVersion: "1", stage: "s", version: v, expireTime: timestampFromDate(new Date(Date.now() + 60_000)) });
      const result = create(SendTurnResponseSchema, { sessionId: id, turnId: `t-${v}`, output: `answer ${v}` });
      await store.get(id);
      await store.commit({ session, expectedVersion: v - 1n, reason: "turn", steps: [], turn: { turnId: `t-${v}`, result } });
    }
    // The two oldest fell out of the window; the rest replay with the session as it was then.
    expect(await store.turnResult(id, "t-1")).toBeUndefined();
    expect(await store.turnResult(id, "t-2")).toBeUndefined();
    const third = await store.turnResult(id, "t-3");
    expect(third?.output).toBe("answer 3");
    expect(third?.session?.version).toBe(3n);
    expect((await store.turnResult(id, `t-${turnWindow + 2}`))?.output).toBe(`answer ${turnWindow + 2}`);
  });

  it("sweeps expired sessions with their records", async () => {
    let offset = 0;
    const clock = { now: () => new Date(Date.now() + offset), sleep: systemClock.sleep };
    const store = await MongoStore.open({ uri, database: db, clock, sweepIntervalMs: 0 });
    stores.push(store);
    const session = create(SessionSchema, {
      id: "swept",
      flowId: "f",
      flowVersion: "1",
      stage: "s",
      version: 1n,
      expireTime: timestampFromDate(new Date(Date.now() + 1000)),
    });
    await store.commit({ session, expectedVersion: 0n, reason: "turn", steps: [create(StepSchema, { sessionId: "swept" })] });
    expect(await store.sweep()).toBe(0);
    offset = 2000;
    expect(await store.sweep()).toBeGreaterThanOrEqual(1);
    for (const c of ["sessions", "session_versions", "session_failures"]) {
      const left = await raw.db(db).collection(c).countDocuments(c === "sessions" ? { _id: "swept" as never } : { session: "swept" });
      expect(left, c).toBe(0);
    }
  });
});
