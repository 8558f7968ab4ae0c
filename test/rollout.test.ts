import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RolloutSchema, RolloutService } from "../src/gen/switchboard/v1/rollout_pb.js";
import { type AuthSettings, sha256Hex } from "../src/server/auth.js";
import { assignVersion, parseWeights, rolloutKey } from "../src/core/rollout.js";
import { MongoRolloutStore } from "../src/store/mongo-rollout-store.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { inBatches, type Replica, splitMesh, startReplica } from "./support/rollout-mesh.js";

/** binomialBounds is n·p ± 4.5 standard deviations: a correct split falls outside about once in 150,000 runs. */
function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - 4.5 * sd), Math.ceil(n * p + 4.5 * sd)];
}

const weights = (spec: string) => parseWeights(spec.split(" "));
const expected = (spec: string) => create(RolloutSchema, { flowId: "split", weights: weights(spec) });
const turn = (replica: Replica, sessionId: string, text: string, accountId = "") =>
  replica.turns.sendTurn({ sessionId, accountId, flowId: "split", input: { text } });

const mesh = splitMesh();

describe("a traffic split on the embedded store", () => {
  let replica: Replica;

  beforeAll(async () => {
    replica = await startReplica({ flowsDir: mesh.flowsDir(), agents: mesh.agents() });
  });

  afterAll(async () => {
    await replica?.close();
  });

  it("serves the newest version while the flow has no rollout", async () => {
    const res = await turn(replica, "no-rollout", "turn 1");
    expect(res.session?.flowVersion).toBe("2");
    expect((await replica.rollouts.getRollout({ flowId: "split" })).rollout?.revision).toBe(0n);
  });

  it("refuses weights that do not add up to 100 or name an unloaded version, changing nothing", async () => {
    const refused = async (spec: string) =>
      replica.rollouts.setRollout({ flowId: "split", weights: weights(spec) }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    const sum = await refused("2=10 1=80");
    expect(sum?.code).toBe(Code.InvalidArgument);
    expect(sum?.rawMessage).toBe("weights: the weights add up to 90, not 100 (2=10 1=80)");
    const unknown = await refused("3=10 1=90");
    expect(unknown?.code).toBe(Code.FailedPrecondition);
    expect(unknown?.rawMessage).toContain('flow split has no version "3" loaded here (loaded: 1, 2)');
    expect((await replica.rollouts.listRolloutChanges({ flowId: "split" })).changes).toEqual([]);
  });

  it("puts 10,000 new sessions on version 2 within the binomial bounds of 10 %, each where the hash says", async () => {
    await replica.rollouts.setRollout({ flowId: "split", weights: weights("2=10 1=90") });
    const ids = Array.from({ length: 10_000 }, (_, i) => `ten-${i}`);
    const versions = await inBatches(ids.length, 64, async (i) => (await turn(replica, ids[i] as string, "turn 1")).session?.flowVersion);
    const onCandidate = versions.filter((v) => v === "2").length;
    const [low, high] = binomialBounds(10_000, 0.1);
    expect(onCandidate).toBeGreaterThanOrEqual(low);
    expect(onCandidate).toBeLessThanOrEqual(high);
    expect(onCandidate + versions.filter((v) => v === "1").length).toBe(10_000);
    const split = expected("2=10 1=90");
    expect(ids.filter((id, i) => assignVersion(split, rolloutKey(id, "")) !== versions[i])).toEqual([]);
  }, 600_000);

  it("keeps every session on its version for life: a new rollout and a reload move none", async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `ten-${i}`);
    const before = await inBatches(ids.length, 32, async (i) => (await replica.turns.getSession({ sessionId: ids[i] as string })).session?.flowVersion);
    await replica.rollouts.setRollout({ flowId: "split", weights: weights("2=90 1=10") });
    replica.orchestrator.reloadFlows();
    const after = await inBatches(ids.length, 32, async (i) => (await turn(replica, ids[i] as string, "turn 2")).session?.flowVersion);
    expect(after).toEqual(before);
    // New sessions follow the new split.
    const fresh = await inBatches(200, 32, async (i) => (await turn(replica, `fresh-${i}`, "turn 1")).session?.flowVersion);
    expect(fresh.filter((v) => v === "2").length).toBeGreaterThan(150);
  });

  it("assigns by the account when one is set: an account's sessions share a version", async () => {
    const versions = await inBatches(40, 8, async (i) => (await turn(replica, `acct-${i}`, "turn 1", "ACC-77")).session?.flowVersion);
    expect(new Set(versions).size).toBe(1);
    expect(versions[0]).toBe(assignVersion(expected("2=90 1=10"), rolloutKey("any", "ACC-77")));
  });
});

describe("a rollout with authentication on", () => {
  const auth: AuthSettings = {
    tokens: [
      { name: "ops-desk", tenant: "*", sha256: sha256Hex("operator-token") },
      { name: "acme-gw", tenant: "acme", sha256: sha256Hex("acme-token") },
    ],
    publicMethods: [],
  };
  let operator: Replica;

  beforeAll(async () => {
    operator = await startReplica({ flowsDir: mesh.flowsDir(), agents: mesh.agents(), auth, token: "operator-token" });
  });

  afterAll(async () => {
    await operator?.close();
  });

  it("refuses a tenant's token with PERMISSION_DENIED and audits an operator's change by subject", async () => {
    const asTenant = createClient(
      RolloutService,
      createGrpcTransport({
        baseUrl: operator.url,
        interceptors: [(next) => (req) => (req.header.set("authorization", "Bearer acme-token"), next(req))],
      }),
    );
    const err = await asTenant.setRollout({ flowId: "split", weights: weights("2=10 1=90") }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(err?.rawMessage).toContain("use an operator token");
    await operator.rollouts.setRollout({ flowId: "split", weights: weights("2=10 1=90") });
    const { changes } = await operator.rollouts.listRolloutChanges({ flowId: "split" });
    expect(changes.map((c) => [c.revision, c.actor, c.action])).toEqual([[1n, "ops-desk (operator)", "set"]]);
  });
});

describe("replicas sharing one FerretDB", () => {
  const database = `switchboard_rollout_${randomBytes(4).toString("hex")}`;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    const uri = inject("mongoUri");
    const replica = async (guardMs: number) =>
      startReplica({
        flowsDir: mesh.flowsDir(),
        agents: mesh.agents(),
        store: await MongoStore.open({ uri, database, sweepIntervalMs: 0 }),
        rolloutStore: new MongoRolloutStore({ uri, database }),
        rolloutGuardIntervalMs: guardMs,
      });
    a = await replica(0);
    b = await replica(0);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  /** seen waits until a replica assigns by a rollout revision (within its refresh interval). */
  const seen = async (r: Replica, revision: bigint) => {
    for (let i = 0; i < 200; i++) {
      if ((await r.rollouts.getRollout({ flowId: "split" })).servedRevision >= revision) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`replica never served revision ${revision}`);
  };

  it("assign every session the same version once both have read the rollout", async () => {
    const { rollout } = await a.rollouts.setRollout({ flowId: "split", weights: weights("2=30 1=70") });
    await seen(b, rollout?.revision ?? 0n);
    expect((await b.rollouts.getRollout({ flowId: "split" })).rollout?.weights).toEqual(rollout?.weights);
    const ids = Array.from({ length: 300 }, (_, i) => `pair-${i}`);
    // Each session is created on one replica and read back on the other.
    const made = await inBatches(ids.length, 16, async (i) => (await turn(i % 2 === 0 ? a : b, ids[i] as string, "turn 1")).session?.flowVersion);
    const read = await inBatches(ids.length, 16, async (i) => (await (i % 2 === 0 ? b : a).turns.getSession({ sessionId: ids[i] as string })).session?.flowVersion);
    expect(read).toEqual(made);
    const split = expected("2=30 1=70");
    expect(ids.filter((id, i) => assignVersion(split, rolloutKey(id, "")) !== made[i])).toEqual([]);
    const onCandidate = made.filter((v) => v === "2").length;
    const [low, high] = binomialBounds(300, 0.3);
    expect(onCandidate).toBeGreaterThanOrEqual(low);
    expect(onCandidate).toBeLessThanOrEqual(high);
  }, 300_000);

  it("audit every change: who, when, from what to what", async () => {
    const { changes } = await b.rollouts.listRolloutChanges({ flowId: "split" });
    expect(changes[0]).toMatchObject({ revision: 1n, actor: "anonymous", action: "set" });
    expect(changes[0]?.from?.weights).toEqual([]);
    expect(changes[0]?.to?.weights.map((w) => `${w.version}=${w.weight}`)).toEqual(["2=30", "1=70"]);
    expect(changes[0]?.time).toBeDefined();
  });

  it("refuse a change built on a stale revision with ABORTED", async () => {
    const err = await a.rollouts.setRollout({ flowId: "split", weights: weights("2=40 1=60"), expectedRevision: 7n }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Aborted);
    expect((await a.rollouts.getRollout({ flowId: "split" })).rollout?.revision).toBe(1n);
  });
});

