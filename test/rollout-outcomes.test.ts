import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { fromJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { GetFlowStatsResponseSchema, GuardMetric, type VersionStats } from "../src/gen/switchboard/v1/rollout_pb.js";
import { parseWeights } from "../src/core/rollout.js";
import { MongoRolloutStore } from "../src/store/mongo-rollout-store.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { switchboardCommand } from "./support/process.js";
import { inBatches, type Replica, splitMesh, startReplica } from "./support/rollout-mesh.js";

const run = promisify(execFile);
const weights = (spec: string) => parseWeights(spec.split(" "));

const mesh = splitMesh();

/** mongoReplica starts a replica on its own database of the tests' FerretDB. */
async function mongoReplica(database: string, guardMs = 0): Promise<Replica> {
  const uri = inject("mongoUri");
  return startReplica({
    flowsDir: mesh.flowsDir(),
    agents: mesh.agents(),
    store: await MongoStore.open({ uri, database, sweepIntervalMs: 0 }),
    rolloutStore: new MongoRolloutStore({ uri, database }),
    rolloutGuardIntervalMs: guardMs,
  });
}

/** Tally is what the test counts itself of one version's sessions. */
interface Tally {
  started: number;
  completed: number;
  handedOff: number;
  turns: number;
  failedTurns: number;
}

/** The path session i takes: 0 completes, 1 is handed off, 2 runs three turns (the third fails on version 2), 3 stops after one turn. */
const paths = [["turn 1", "bye"], ["turn 1", "human"], ["turn 1", "turn 2", "turn 3"], ["turn 1"]] as const;

describe("outcomes per version, counted in FerretDB", () => {
  const database = `switchboard_outcomes_${randomBytes(4).toString("hex")}`;
  let replica: Replica;
  const tallies = new Map<string, Tally>();

  beforeAll(async () => {
    replica = await mongoReplica(database);
    await replica.rollouts.setRollout({ flowId: "split", weights: weights("2=50 1=50") });
    await inBatches(80, 8, async (i) => {
      const sessionId = `outcome-${i}`;
      let version = "";
      let ok = 0;
      let failed = 0;
      for (const text of paths[i % 4] as readonly string[]) {
        try {
          const res = await replica.turns.sendTurn({ sessionId, flowId: "split", input: { text } });
          version = res.session?.flowVersion ?? version;
          ok++;
        } catch {
          failed++;
        }
      }
      const t = tallies.get(version) ?? { started: 0, completed: 0, handedOff: 0, turns: 0, failedTurns: 0 };
      t.started++;
      if (i % 4 === 0) t.completed++;
      if (i % 4 === 1) t.handedOff++;
      t.turns += ok;
      t.failedTurns += failed;
      tallies.set(version, t);
    });
  }, 300_000);

  afterAll(async () => {
    await replica?.close();
  });

  const expectCounts = (versions: VersionStats[]) => {
    expect(versions.map((v) => v.version)).toEqual(["2", "1"]);
    for (const v of versions) {
      const t = tallies.get(v.version) as Tally;
      expect({
        version: v.version,
        started: Number(v.started),
        completed: Number(v.completed),
        handedOff: Number(v.handOff?.count),
        contained: Number(v.containment?.count),
        turns: Number(v.turns),
        failedTurns: Number(v.failedTurns?.count),
        turnTrials: Number(v.failedTurns?.total),
        unfinished: Number(v.unfinished),
      }).toEqual({
        version: v.version,
        started: t.started,
        completed: t.completed,
        handedOff: t.handedOff,
        contained: t.completed,
        turns: t.turns,
        failedTurns: t.failedTurns,
        turnTrials: t.turns + t.failedTurns,
        unfinished: t.started - t.completed,
      });
      // The interval holds the rate.
      expect(v.handOff?.low).toBeLessThanOrEqual(v.handOff?.value ?? -1);
      expect(v.handOff?.high).toBeGreaterThanOrEqual(v.handOff?.value ?? 2);
    }
    expect(tallies.get("2")?.failedTurns).toBeGreaterThan(0);
    expect(tallies.get("1")?.failedTurns).toBe(0);
  };

  it("GetFlowStats equals the counts the test made itself, for each version", async () => {
    const res = await replica.rollouts.getFlowStats({ flowId: "split", since: durationFromMs(3_600_000) });
    expectCounts(res.versions);
    expect(res.handOffStages).toEqual(["human"]);
    for (const v of res.versions) expect(v.medianDuration).toBeDefined();
  });

  it("switchboard flows stats prints the same counts, side by side with the difference and the intervals", async () => {
    const json = await run(process.execPath, [switchboardCommand, "flows", "stats", "split", "--since", "all", "--json", "--server", replica.url]);
    expectCounts(fromJson(GetFlowStatsResponseSchema, JSON.parse(json.stdout)).versions);
    const { stdout } = await run(process.execPath, [switchboardCommand, "flows", "stats", "split", "--server", replica.url]);
    const lines = stdout.split("\n");
    expect(lines[0]).toMatch(/^flow split: sessions created since \S+; hand-off stages: human$/);
    expect(lines[2]).toMatch(/^\s+version 2\s+version 1\s+2 vs 1$/);
    const t2 = tallies.get("2") as Tally;
    const t1 = tallies.get("1") as Tally;
    expect(lines.find((l) => l.startsWith("sessions "))).toMatch(new RegExp(`^sessions\\s+${t2.started}\\s+${t1.started}$`));
    expect(lines.find((l) => l.startsWith("hand-off "))).toMatch(
      new RegExp(`^hand-off\\s+[\\d.]+% \\[[\\d.]+%, [\\d.]+%\\] ${t2.handedOff}/${t2.started}\\s+[\\d.]+% \\[[\\d.]+%, [\\d.]+%\\] ${t1.handedOff}/${t1.started}\\s+[+-][\\d.]+ pts \\[[+-][\\d.]+, [+-][\\d.]+\\] (real|within noise)$`),
    );
    expect(lines.find((l) => l.startsWith("failed turns "))).toMatch(/ real$/);
  });

  it("publishes the rates in the metrics, labelled by flow and version", async () => {
    const text = await replica.metrics.registry.metrics();
    expect(text).toMatch(/switchboard_flow_version_outcome_rate\{flow="split",version="2",outcome="failed_turns"\} 0\.\d+/);
    expect(text).toMatch(/switchboard_flow_version_sessions_total\{flow="split",version="1"\} \d+/);
    expect(text).toMatch(/switchboard_flow_version_turns_total\{flow="split",version="2",status="failed"\} [1-9]/);
  });
});

describe("a guarded rollout", () => {
  const database = `switchboard_guard_${randomBytes(4).toString("hex")}`;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    a = await mongoReplica(database, 200);
    b = await mongoReplica(database, 200);
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it("cuts the planted bad version to zero by itself, once, audited, logged and counted", async () => {
    await a.rollouts.setRollout({
      flowId: "split",
      weights: weights("2=50 1=50"),
      guard: { metric: GuardMetric.FAILED_TURN_RATE, margin: 0.05, minSessions: 20 },
    });
    let cut = false;
    for (let round = 0; round < 10 && !cut; round++) {
      await inBatches(20, 8, async (i) => {
        const sessionId = `guarded-${round}-${i}`;
        for (const text of ["turn 1", "turn 2", "turn 3"]) {
          await (i % 2 === 0 ? a : b).turns.sendTurn({ sessionId, flowId: "split", input: { text } }).catch(() => undefined);
        }
      });
      for (let wait = 0; wait < 20 && !cut; wait++) {
        const { rollout } = await b.rollouts.getRollout({ flowId: "split" });
        cut = rollout?.weights.find((w) => w.version === "2")?.weight === 0;
        if (!cut) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(cut).toBe(true);
    const { rollout } = await a.rollouts.getRollout({ flowId: "split" });
    expect(rollout?.weights.map((w) => `${w.version}=${w.weight}`)).toEqual(["2=0", "1=100"]);
    expect(rollout?.updatedBy).toBe("guard");
    const { changes } = await a.rollouts.listRolloutChanges({ flowId: "split" });
    // Both replicas judge; the compare-and-set lets one cut stand.
    expect(changes.map((c) => c.action)).toEqual(["guard", "set"]);
    expect(changes[0]).toMatchObject({ actor: "guard", revision: 2n });
    expect(changes[0]?.from?.weights.map((w) => `${w.version}=${w.weight}`)).toEqual(["2=50", "1=50"]);
    expect(changes[0]?.reason).toMatch(/^failed-turns rate of version 2 [\d.]+% \[[\d.]+%, [\d.]+%\] over \d+ sessions vs version 1 0\.0% \[0\.0%, [\d.]+%\] over \d+: worse by more than the margin of 5\.0%$/);
    const cutBy = [a, b].filter((r) => r.logs.lines.some((l) => l["msg"] === "rollout guard cut a version to zero" && l["version"] === "2"));
    expect(cutBy).toHaveLength(1);
    const counted = await (cutBy[0] as Replica).metrics.registry.getSingleMetricAsString("switchboard_rollout_guard_cuts_total");
    expect(counted).toContain('switchboard_rollout_guard_cuts_total{flow="split",version="2"} 1');
  }, 300_000);

  it("sends every new session to the baseline after the cut", async () => {
    for (const r of [a, b]) {
      for (let i = 0; i < 50 && (await r.rollouts.getRollout({ flowId: "split" })).servedRevision < 2n; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const versions = await inBatches(40, 8, async (i) => (await (i % 2 ? a : b).turns.sendTurn({ sessionId: `after-cut-${i}`, flowId: "split", input: { text: "turn 1" } })).session?.flowVersion);
    expect(new Set(versions)).toEqual(new Set(["1"]));
  });
});
