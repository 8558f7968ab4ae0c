import { create } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { Collection, MongoClient } from "mongodb";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { SessionSchema, StepSchema, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import type { Commit } from "../src/core/ports.js";
import { MongoStore } from "../src/store/mongo-store.js";

/**
 * A turn reads a session's head alone, whatever the session's length: the
 * head carries its latest version. A head left behind by a writer that
 * stopped between its commit and the head's update is found out.
 */
describe("MongoDB session heads", () => {
  const uri = inject("mongoUri");
  const database = `switchboard_head_${randomBytes(4).toString("hex")}`;
  const stores: MongoStore[] = [];
  let client: MongoClient;
  const open = async () => {
    const store = await MongoStore.open({ uri, database, sweepIntervalMs: 0 });
    stores.push(store);
    return store;
  };
  const commitOf = (id: string, version: bigint): Commit => ({
    session: create(SessionSchema, { id, version, stage: "s", flowId: "f", state: { n: Number(version) } }),
    expectedVersion: version - 1n,
    reason: "turn",
    steps: [],
  });

  beforeAll(async () => {
    client = await MongoClient.connect(uri);
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await client.db(database).dropDatabase();
    await client.close();
  });

  it("reads no version document on a turn of a session this replica knows", async () => {
    const store = await open();
    for (let v = 1n; v <= 30n; v++) await store.commit(commitOf("known", v));
    expect((await store.load("known", "")).session?.version).toBe(30n);
    const reads: string[] = [];
    const findOne = Collection.prototype.findOne;
    const spy = vi.spyOn(Collection.prototype, "findOne").mockImplementation(function (this: Collection, ...args: unknown[]) {
      reads.push(this.collectionName);
      return (findOne as (...a: unknown[]) => unknown).apply(this, args) as never;
    });
    try {
      for (let i = 0; i < 5; i++) expect((await store.load("known", "")).session?.state?.["n"]).toBe(30);
    } finally {
      spy.mockRestore();
    }
    expect(reads).toEqual(["sessions", "sessions", "sessions", "sessions", "sessions"]);
  });

  it("notes the failed turns of its version on the head, so where the events stand takes no search", async () => {
    const store = await open();
    for (let v = 1n; v <= 2n; v++) await store.commit(commitOf("failing", v));
    await store.recordFailure(create(StepSchema, { sessionId: "failing", version: 2n, turnId: "bad", status: StepStatus.FAILED, details: { seq_end: "44" } }));
    await store.recordFailure(create(StepSchema, { sessionId: "failing", version: 2n, turnId: "worse", status: StepStatus.FAILED, details: { seq_end: "41" } }));
    const finds: string[] = [];
    const find = Collection.prototype.find;
    const spy = vi.spyOn(Collection.prototype, "find").mockImplementation(function (this: Collection, ...args: unknown[]) {
      finds.push(this.collectionName);
      return (find as (...a: unknown[]) => unknown).apply(this, args) as never;
    });
    try {
      expect(await store.failureEnd("failing", 2n)).toBe(44n);
    } finally {
      spy.mockRestore();
    }
    expect(finds).not.toContain("session_failures");
    // An older version's failures are found by their ids; a new version starts with none.
    expect(await store.failureEnd("failing", 1n)).toBe(0n);
    await store.commit(commitOf("failing", 3n));
    expect(await store.failureEnd("failing", 3n)).toBe(0n);
    expect(await store.failureEnd("failing", 2n)).toBe(44n);
  });

  it("finds the latest version past a head left behind, and brings the head up to it", async () => {
    const writer = await open();
    for (let v = 1n; v <= 3n; v++) await writer.commit(commitOf("lagging", v));
    const reader = await open();
    expect((await reader.get("lagging"))?.version).toBe(3n);
    // Version 4 is committed, but its writer stops before the head's update.
    await writer.commit(commitOf("lagging", 4n));
    await client.db(database).collection("sessions").updateOne({ _id: "lagging" as never }, { $set: { version: 3 } });
    const stale = await client.db(database).collection("sessions").findOne({ _id: "lagging" as never });
    expect(stale?.["version"]).toBe(3);
    // A replica that knows the session trusts the head until a commit finds it lagging...
    const err = await reader.commit(commitOf("lagging", 4n)).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Aborted });
    // ...then it reads past it, and repairs it for every replica.
    expect((await reader.get("lagging"))?.version).toBe(4n);
    // A replica that reads the session for the first time looks past the head.
    await client.db(database).collection("sessions").updateOne({ _id: "lagging" as never }, { $set: { version: 3 } });
    const fresh = await open();
    expect((await fresh.get("lagging"))?.version).toBe(4n);
  });
});

