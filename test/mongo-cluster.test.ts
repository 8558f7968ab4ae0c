import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { type CommandStartedEvent, type Document, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Commit } from "../src/core/ports.js";
import { SendTurnResponseSchema } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionSchema, SessionStatus, StepSchema, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { type SessionCollectionName, sessionIndexes, sessionShardKeys } from "../src/store/mongo-indexes.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { repoRoot } from "./support/process.js";

/**
 * The session store on a replica set or sharded cluster relies on settings
 * it states (src/store/mongo-client.ts, mongo-indexes.ts): this proves
 * they are what it sends, on the server at hand — the write concern on
 * every write, the read concern on every read, the index behind every
 * query it makes (from the query plans), a lost acknowledgement recognised
 * by its turn id, and shard keys that agree with the sharding script.
 */
describe("the session store's settings for a MongoDB cluster", () => {
  const uri = inject("mongoUri");
  const database = `switchboard_cluster_${randomBytes(4).toString("hex")}`;
  const sent: CommandStartedEvent[] = [];
  let store: MongoStore;
  let raw: MongoClient;
  let lostAck: unknown;
  let lostRace: unknown;

  const sessionAt = (id: string, version: bigint, status = SessionStatus.ACTIVE): Session =>
    create(SessionSchema, {
      id,
      tenant: "acme",
      flowId: "f",
      flowVersion: "1",
      stage: "s",
      status,
      version,
      updateTime: timestampFromDate(new Date()),
      expireTime: timestampFromDate(new Date(Date.now() + 60_000)),
    });
  const commitOf = (session: Session, turnId: string): Commit => ({
    session,
    expectedVersion: session.version - 1n,
    reason: "turn",
    steps: [create(StepSchema, { sessionId: session.id, version: session.version, turnId, status: StepStatus.OK, output: turnId })],
    turn: { turnId, result: create(SendTurnResponseSchema, { sessionId: session.id, turnId, output: turnId }) },
  });

  beforeAll(async () => {
    raw = new MongoClient(uri);
    await raw.connect();
    store = await MongoStore.open({ uri, database, sweepIntervalMs: 0, onCommand: (e) => sent.push(e) });
    // Everything the store does, once: commits, a replay, a failed turn,
    // the listings, a sweep and a delete.
    const id = "cluster-a";
    await store.commit(commitOf(sessionAt(id, 1n), "t1"));
    await store.commit(commitOf(sessionAt(id, 2n), "t2"));
    await store.commit(commitOf(sessionAt("cluster-b", 1n, SessionStatus.WAITING), "b1"));
    await store.load(id, "t1");
    await store.turnResult(id, "t2");
    await store.recordFailure(create(StepSchema, { sessionId: id, turnId: "bad", status: StepStatus.FAILED, details: { seq_end: "9" } }));
    await store.failureEnd(id, 2n);
    await store.listSteps(id, { pageSize: 0, pageToken: "" });
    await store.listSnapshots(id, { pageSize: 0, pageToken: "" });
    await store.snapshot(id, 1n);
    await store.list({}, { pageSize: 0, pageToken: "" });
    await store.list({ status: SessionStatus.ACTIVE }, { pageSize: 0, pageToken: "" });
    await store.list({ tenant: "acme" }, { pageSize: 0, pageToken: "" });
    await store.sweep();
    await store.delete("cluster-b");

    // A replica that never saw the session commits turn t2 at version 2
    // again, as after a failover that lost the first acknowledgement; and
    // another turn racing for version 2.
    const other = await MongoStore.open({ uri, database, sweepIntervalMs: 0 });
    lostAck = await other.commit(commitOf(sessionAt(id, 2n), "t2")).catch((e: unknown) => e);
    lostRace = await other.commit(commitOf(sessionAt(id, 2n), "t2-racer")).catch((e: unknown) => e);
    await other.close();
  });

  afterAll(async () => {
    await store?.close();
    await raw?.db(database).dropDatabase();
    await raw?.close();
  });

  const writes = () => sent.filter((e) => ["insert", "update", "delete", "createIndexes"].includes(e.commandName));
  const reads = () => sent.filter((e) => ["find", "aggregate", "count"].includes(e.commandName));

  it("sends every write with w: majority, journaled, and a bounded wait", () => {
    expect(new Set(writes().map((e) => e.commandName))).toEqual(new Set(["insert", "update", "delete", "createIndexes"]));
    for (const e of writes()) expect({ command: e.commandName, writeConcern: e.command["writeConcern"] }).toEqual({
      command: e.commandName,
      writeConcern: { w: "majority", j: true, wtimeout: 5000 },
    });
  });

  it("sends every read with read concern majority, from the primary", () => {
    expect(reads().length).toBeGreaterThan(10);
    for (const e of reads()) {
      expect(e.command["readConcern"]).toEqual({ level: "majority" });
      // A single server gets no read preference; a mongos or replica set member gets primary.
      const preference = e.command["$readPreference"] as Document | undefined;
      if (preference !== undefined) expect(preference["mode"]).toBe("primary");
    }
  });

  it("recognises a commit whose acknowledgement was lost by its turn id, and applies it once", async () => {
    expect(lostAck).toBeInstanceOf(ConnectError);
    expect((lostAck as ConnectError).code).toBe(Code.Aborted);
    expect((lostAck as ConnectError).rawMessage).toMatch(/turn t2 was applied already, in version 2\)/);
    expect((lostRace as ConnectError).rawMessage).toMatch(/version 2 was committed by another writer\)/);
    const versions = await raw.db(database).collection("session_versions").find({ session: "cluster-a" }).sort({ _id: 1 }).toArray();
    expect(versions.map((v) => v["turnId"])).toEqual(["t1", "t2"]);
    // The rerun a client's retry makes finds the stored result.
    expect((await store.load("cluster-a", "t2")).replay?.output).toBe("t2");
  });

  /**
   * statedIndex is the index of sessionIndexes a query of the store uses,
   * by the fields it filters on.
   */
  const statedIndex = (collection: string, filter: Document): string => {
    const fields = Object.keys(filter);
    if (fields.includes("_id")) return "_id_";
    if (collection === "sessions" && fields.includes("status")) return "status_updated";
    if (collection === "sessions" && fields.includes("tenant")) return "tenant_updated";
    if (collection === "sessions" && fields.includes("expiresAt")) return "expires_ttl";
    if (fields.includes("session")) return "session";
    throw new Error(`the store queries ${collection} by ${JSON.stringify(fields)}, which no stated index serves`);
  };

  /** queries are the store's distinct query shapes: collection, filter, sort. */
  const queries = () => {
    const seen = new Map<string, { collection: string; filter: Document; sort?: Document }>();
    for (const e of sent) {
      const c = e.command;
      const found =
        e.commandName === "find"
          ? [{ collection: String(c["find"]), filter: (c["filter"] ?? {}) as Document, sort: sortOf(c["sort"]) }]
          : e.commandName === "update" || e.commandName === "delete"
            ? ((c[e.commandName === "update" ? "updates" : "deletes"] ?? []) as Document[]).map((u) => ({
                collection: String(c[e.commandName]),
                filter: u["q"] as Document,
                sort: undefined,
              }))
            : [];
      for (const q of found) {
        // A shape: the fields filtered on, each with its operators (or "=").
        const fields = Object.entries(q.filter).map(([k, v]) => `${k}${isOperators(v) ? Object.keys(v).join("") : "="}`);
        const key = `${q.collection} ${fields.join(",")} ${JSON.stringify(q.sort ?? {})}`;
        if (!seen.has(key)) {
          seen.set(key, q.sort === undefined ? { collection: q.collection, filter: q.filter } : { collection: q.collection, filter: q.filter, sort: q.sort });
        }
      }
    }
    return [...seen.values()];
  };

  it("has every index it states, with the stated keys", async () => {
    const db = raw.db(database);
    for (const name of ["sessions", "session_versions", "session_failures"] as SessionCollectionName[]) {
      const onServer = await db.collection(name).indexes();
      for (const index of sessionIndexes.filter((i) => i.collection === name)) {
        // Servers without TTL indexes get the sweeper's index as `expires`.
        const found = onServer.find((i) => i.name === index.name || (index.expiry && i.name === "expires"));
        expect({ collection: name, index: index.name, key: found?.key }).toEqual({ collection: name, index: index.name, key: index.key });
      }
    }
  });

  it("uses the stated index for every query it makes, as the server's query plans show", async () => {
    const db = raw.db(database);
    const shapes = queries();
    // Commits, reads, listings, the sweeper, deletes.
    expect(shapes.length).toBeGreaterThanOrEqual(10);
    for (const q of shapes) {
      const index = statedIndex(q.collection, q.filter);
      expect(sessionIndexes.some((i) => i.collection === q.collection && i.name === index)).toBe(true);
      const plan = await db.command({
        explain: { find: q.collection, filter: q.filter, ...(q.sort !== undefined ? { sort: q.sort } : {}) },
        verbosity: "queryPlanner",
      });
      const where = `${q.collection} ${JSON.stringify(q.filter)}`;
      expect(plan["ok"], where).toBe(1);
      const serverInfo = (plan["serverInfo"] ?? {}) as Document;
      if (serverInfo["ferretdbVersion"] !== undefined) {
        // FerretDB 1.24 on SQLite: its plan is SQLite's ("SCAN <table>"),
        // and what it can show is whether the filter went down to SQL. An
        // exact _id lookup, every read of a turn, does.
        expect(plan["queryPlanner"], where).toBeDefined();
        if (isExactIdLookup(q.filter)) expect(plan["filterPushdown"], where).toBe(true);
      } else {
        // mongod or mongos: the winning plan (on every shard) uses the
        // stated index, never a collection scan.
        const used = plannedIndexes(plan["queryPlanner"] as Document);
        expect(used.stages, where).not.toContain("COLLSCAN");
        const expected = index === "expires_ttl" ? ["expires_ttl", "expires"] : [index];
        const idStage = used.stages.some((s) => ["IDHACK", "EXPRESS_IXSCAN", "EXPRESS_IDHACK"].includes(s));
        expect(used.indexes.some((name) => expected.includes(name)) || (index === "_id_" && idStage), `${where}: ${JSON.stringify(used)}`).toBe(true);
      }
    }
  });

  it("states a shard key by session id for each collection, as the sharding script applies them", () => {
    const script = readFileSync(join(repoRoot, "deploy/mongodb/shard-collections.js"), "utf8");
    const sharded: Record<string, unknown> = {};
    runInNewContext(script, {
      db: { getName: () => "switchboard" },
      sh: { enableSharding: () => undefined, shardCollection: (ns: string, key: unknown) => (sharded[ns] = key) },
      print: () => undefined,
    });
    expect(sharded).toEqual({
      "switchboard.sessions": sessionShardKeys.sessions,
      "switchboard.session_versions": sessionShardKeys.session_versions,
      "switchboard.session_failures": sessionShardKeys.session_failures,
    });
  });
});

/** isOperators tells whether a filter's value is a set of query operators (`{ $gte: ..., $lt: ... }`). */
function isOperators(v: unknown): v is Document {
  return typeof v === "object" && v !== null && !(v instanceof Date) && Object.keys(v).some((k) => k.startsWith("$"));
}

/** sortOf is a find command's sort as a plain object (the driver sends a Map). */
function sortOf(sort: unknown): Document | undefined {
  if (sort instanceof Map) return Object.fromEntries(sort) as Document;
  return sort as Document | undefined;
}

/** isExactIdLookup tells whether a filter is `{ _id: <string> }` alone. */
function isExactIdLookup(filter: Document): boolean {
  const keys = Object.keys(filter);
  return keys.length === 1 && keys[0] === "_id" && typeof filter["_id"] === "string";
}

/**
 * plannedIndexes collects the stages and index names of a query plan's
 * winning plans (one per shard on a mongos), leaving out rejected plans.
 */
function plannedIndexes(planner: Document): { stages: string[]; indexes: string[] } {
  const stages: string[] = [];
  const indexes: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "rejectedPlans") continue;
      if (key === "stage" && typeof value === "string") stages.push(value);
      else if (key === "indexName" && typeof value === "string") indexes.push(value);
      else walk(value);
    }
  };
  walk(planner["winningPlan"] ?? planner);
  return { stages, indexes };
}
