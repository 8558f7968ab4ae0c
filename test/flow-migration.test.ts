import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { contactCentreAgents } from "../agents/contact-centre/index.js";
import { authAgent } from "../agents/contact-centre/front-desk.js";
import { createLogger } from "../src/log.js";
import { OrchestratorService, SendTurnView } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionStatus, StepKind } from "../src/gen/switchboard/v1/session_pb.js";
import type { TurnInputSchema } from "../src/gen/switchboard/v1/turn_pb.js";
import type { SessionStore } from "../src/core/ports.js";
import { type AgentOptions, type AgentResultInit, type RunningAgent, serveAgent, type Turn } from "../src/sdk/index.js";
import { FlowCatalog } from "../src/server/flow-catalog.js";
import { type Orchestrator, startOrchestrator } from "../src/server/orchestrator.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { LogLines } from "./support/in-process.js";
import { repoRoot, switchboardCommand } from "./support/process.js";

const run = promisify(execFile);
type Input = MessageInitShape<typeof TurnInputSchema>;

const v1 = readFileSync(join(repoRoot, "flows/contact-centre.yaml"), "utf8");
const v2File = join(repoRoot, "examples/migration/contact-centre-v2.yaml");

/**
 * Version 3, for refusals: "authentication" is now "identity" (and its
 * migration from 1 does not map it), the approval stage wants an order
 * reference in the state (version 1 calls it refund_order, and this
 * migration does not rename it), and there is no way from version 2.
 */
const v3 = v1
  .replace('version: "1"', 'version: "3"')
  .replaceAll("authentication", "identity")
  .replace("state_keys: [verified, refund_amount, approved]", 'state_keys: [verified, refund_amount, approved, order_ref]\nmigrations:\n  - from: "1"')
  .replace(
    "    preconditions:\n      - name: supervisor_only",
    "    preconditions:\n      - name: refund_documented\n        expr: has(state.order_ref)\n        message: a refund needs its order reference\n      - name: supervisor_only",
  );

const refund250: Input[] = [{ text: "hello" }, { text: "my code is 1234" }, { text: "I would like a refund of 250 for order A-17" }];
const approve: Input = { event: { type: "approval.granted" }, metadata: { permissions: "refunds.approve", actor: "supervisor-7" } };

/**
 * The auth agent, held at a gate for the session "gate" while a test wants
 * a turn in flight.
 */
let gate: { entered: () => void; released: Promise<void> } | undefined;
const gatedAuth: Pick<AgentOptions, "card" | "handler"> = {
  card: authAgent.card,
  async handler(turn: Turn) {
    if (gate !== undefined && turn.start.sessionId === "gate") {
      gate.entered();
      await gate.released;
    }
    return (await authAgent.handler(turn)) as AgentResultInit;
  },
};

async function cli(args: string[], server: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [switchboardCommand, ...args], { env: { ...process.env, SWITCHBOARD_SERVER: server }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe.each(["memory", "ferretdb"] as const)("live migration of sessions (%s store)", (storeKind) => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-migrate-"));
  const database = `switchboard_migrate_${randomBytes(4).toString("hex")}`;
  let agents: RunningAgent[] = [];
  let orchestrator: Orchestrator;
  let client: Client<typeof OrchestratorService>;
  let server = "";

  const record = async (sessionId: string) => ({
    session: (await client.getSession({ sessionId })).session,
    snapshots: (await client.listSnapshots({ sessionId })).snapshots,
    steps: (await client.listSteps({ sessionId })).steps,
  });
  const converse = async (sessionId: string, accountId: string, inputs: Input[]) => {
    for (const [i, input] of inputs.entries()) await client.sendTurn({ sessionId, accountId, flowId: i === 0 ? "contact-centre" : "", input });
  };
  const refused = async (sessionId: string, toVersion: string, message: string) => {
    const before = await record(sessionId);
    const err = await client.migrateSession({ sessionId, toVersion }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code, `${sessionId} → ${toVersion}`).toBe(Code.FailedPrecondition);
    expect(err?.rawMessage).toBe(message);
    expect(await record(sessionId)).toEqual(before);
  };

  beforeAll(async () => {
    agents = await Promise.all(contactCentreAgents.map((a) => serveAgent({ ...(a === authAgent ? gatedAuth : a), host: "127.0.0.1", port: 0 })));
    copyFileSync(join(repoRoot, "flows/contact-centre.yaml"), join(dir, "contact-centre.yaml"));
    copyFileSync(join(repoRoot, "flows/assistant.json"), join(dir, "assistant.json"));
    const flows = new FlowCatalog("assistant");
    flows.loadDirectory(dir);
    const store: SessionStore | undefined = storeKind === "ferretdb" ? await MongoStore.open({ uri: inject("mongoUri"), database, sweepIntervalMs: 0 }) : undefined;
    orchestrator = await startOrchestrator({
      host: "127.0.0.1",
      port: 0,
      flows,
      agents: agents.map((a) => ({ name: a.card.name, endpoint: a.url })),
      sessionTtlMs: 3_600_000,
      agentTimeoutMs: 10_000,
      drainTimeoutMs: 2_000,
      logger: createLogger({ level: "warn", destination: new LogLines() }),
      ...(store !== undefined ? { store } : {}),
    });
    server = `http://127.0.0.1:${orchestrator.port}`;
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: server }));
    // Calls in progress on version 1, then versions 2 and 3 arrive.
    await converse("rt", "web-7", refund250);
    await converse("cli", "acct-1", [...refund250.slice(0, 2), { text: "I would like a refund of 300 for order B-2" }]);
    await converse("doc", "acct-2", refund250);
    await converse("big", "acct-3", [...refund250.slice(0, 2), { text: "I would like a refund of 2500 for order C-9" }]);
    await converse("auth", "acct-4", [{ text: "hello" }]);
    await converse("gate", "acct-5", [{ text: "hello" }]);
    copyFileSync(v2File, join(dir, "contact-centre-2.yaml"));
    writeFileSync(join(dir, "contact-centre-3.yaml"), v3);
    expect((await client.reloadFlows({})).added.sort()).toEqual(["contact-centre@2", "contact-centre@3"]);
  }, 120_000);

  afterAll(async () => {
    await orchestrator?.drain();
    await Promise.all(agents.map((a) => a.close()));
    rmSync(dir, { recursive: true, force: true });
    if (storeKind === "ferretdb") {
      const mongo = new MongoClient(inject("mongoUri"));
      await mongo.db(database).dropDatabase();
      await mongo.close();
    }
  });

  it("batch --dry-run through the CLI checks each waiting call, replays it on version 2, lists the one whose path changes, and changes nothing", async () => {
    const ids = ["rt", "cli", "doc", "big"];
    const before = await Promise.all(ids.map(record));
    const out = await cli(["sessions", "migrate", "--flow", "contact-centre", "--version", "1", "--status", "waiting", "--to-version", "2", "--dry-run"], server);
    expect(out.code, out.stderr).toBe(1);
    const row = (id: string) => out.stdout.split("\n").find((l) => l.startsWith(`${id} `)) ?? "";
    for (const id of ["rt", "cli", "doc"]) expect(row(id)).toMatch(/^\S+ +approval \(v1\) +supervisor_approval \(v2\) +would migrate +same$/);
    expect(row("big")).toMatch(/refused \(see below\) +changes$/);
    expect(out.stdout).toContain(
      'big refused: failed_precondition: session big cannot move to contact-centre@2: invariant "refund_within_phone_limit" of flow contact-centre@2 failed: refunds above 2000.00 cannot be handled on a call; refer the caller to the claims team',
    );
    expect(out.stdout).toContain("3 of 4 sessions would move, 1 refused; 1 would take another path:");
    expect(out.stdout).toContain("big: contact-centre@1 → contact-centre@2: departs at turn 3 of 3, stage intent_capture");
    expect(await Promise.all(ids.map(record))).toEqual(before);
  });

  it("--dry-run of one named session through the CLI says it would be refused and where its path departs", async () => {
    const before = await record("auth");
    const out = await cli(["sessions", "migrate", "auth", "--to-version", "3", "--dry-run"], server);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toMatch(/^auth +refused \(see below\) +changes$/m);
    expect(out.stdout).toContain('auth refused: failed_precondition: session auth cannot move to contact-centre@3: stage "authentication" is not a stage of contact-centre@3');
    expect(out.stdout).toContain("auth: contact-centre@1 → contact-centre@3: departs at turn 1 of 1, stage greeting");
    expect(await record("auth")).toEqual(before);
  });

  it("sessions migrate through the CLI moves one call and says where it went", async () => {
    const out = await cli(["sessions", "migrate", "cli", "--to-version", "2"], server);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^cli +approval \(v1\) +supervisor_approval \(v2\) +migrated \(session version 4\)$/m);
    const { session } = await client.getSession({ sessionId: "cli" });
    expect(session).toMatchObject({ flowVersion: "2", stage: "supervisor_approval", version: 4n, status: SessionStatus.WAITING });
  });

  it("round trip over gRPC: the call moves to version 2 at the mapped stage with the mapped state, goes on there, and a rollback returns it to version 1 exactly", async () => {
    const before = (await client.getSession({ sessionId: "rt" })).session as Session;
    expect(before).toMatchObject({ flowVersion: "1", stage: "approval", version: 3n, status: SessionStatus.WAITING });
    const { refund_order: order, ...kept } = before.state ?? {};
    expect(order).toBe("A-17");

    const moved = await client.migrateSession({ sessionId: "rt", toVersion: "2" });
    expect(moved).toMatchObject({ fromVersion: "1", fromStage: "approval" });
    expect(moved.session).toMatchObject({ flowVersion: "2", stage: "supervisor_approval", version: 4n, status: SessionStatus.WAITING });
    // Renamed, defaulted, and set by CEL from the session's account.
    expect(moved.session?.state).toEqual({ ...kept, order_ref: "A-17", approved: false, channel: "web" });
    expect(moved.session?.waiting?.stage).toBe("supervisor_approval");
    expect((await client.getSession({ sessionId: "rt" })).session).toEqual(moved.session);
    const { snapshots } = await client.listSnapshots({ sessionId: "rt" });
    expect(snapshots.map((s) => s.reason)).toEqual(["turn", "turn", "turn", "migration"]);
    const migration = (await client.listSteps({ sessionId: "rt" })).steps.at(-1);
    expect(migration).toMatchObject({ kind: StepKind.MIGRATION, version: 4n, stage: "approval", nextStage: "supervisor_approval" });
    expect(migration?.details).toMatchObject({ migrated_from: "1", migrated_to: "2", state_renamed: "refund_order→order_ref", state_defaulted: "approved", state_set: "channel" });

    // It goes on on version 2: the supervisor's approval is a turn at supervisor_approval.
    const approved = await client.sendTurn({ sessionId: "rt", input: approve });
    expect(approved.output).toContain("The refund was approved by supervisor-7.");
    expect(approved.nextStage).toBe("closing");
    expect(approved.session).toMatchObject({ flowVersion: "2", version: 5n });
    const turnSteps = (await client.listSteps({ sessionId: "rt" })).steps.filter((s) => s.version === 5n && s.kind === StepKind.TURN);
    expect(turnSteps.map((s) => s.stage)).toEqual(["supervisor_approval", "fulfilment"]);

    // Rolling back to the version before the move returns the call to version 1 as it was.
    const rolled = await client.rollbackSession({ sessionId: "rt", version: 3n });
    expect(rolled.session?.version).toBe(6n);
    const after = (await client.getSession({ sessionId: "rt" })).session as Session;
    const timeless = (s: Session) => ({ ...s, version: 0n, updateTime: undefined, expireTime: undefined, lastSeq: 0n });
    expect(timeless(after)).toEqual(timeless(before));
  });

  it("refuses a move it cannot make, saying why, and changes nothing", async () => {
    await refused("auth", "3", 'session auth cannot move to contact-centre@3: stage "authentication" is not a stage of contact-centre@3 and migrations[0] (from "1").stages does not map it');
    await refused("doc", "3", 'session doc cannot move to contact-centre@3: precondition "refund_documented" of stage "approval" failed: a refund needs its order reference');
    await refused("big", "2", 'session big cannot move to contact-centre@2: invariant "refund_within_phone_limit" of flow contact-centre@2 failed: refunds above 2000.00 cannot be handled on a call; refer the caller to the claims team');
    await refused("cli", "3", "session cli cannot move to contact-centre@3: contact-centre@3 declares no migration from version 2 (it migrates from 1); add one under migrations: in its flow file");
    await refused("cli", "2", "session cli cannot move to contact-centre@2: it is on that version already");
    await refused("doc", "9", "session doc cannot move to contact-centre@9: that version is not loaded (load its flow file, then ReloadFlows)");
    await expect(client.migrateSession({ sessionId: "nobody", toVersion: "2" })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client.migrateSession({ sessionId: "doc", toVersion: "" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("validate_only answers the move without making it", async () => {
    const before = await record("doc");
    const checked = await client.migrateSession({ sessionId: "doc", toVersion: "2", validateOnly: true });
    expect(checked.session).toMatchObject({ flowVersion: "2", stage: "supervisor_approval", version: 4n });
    expect(await record("doc")).toEqual(before);
  });

  it("a move asked for while a turn is in flight waits for the turn, then applies on top of it", async () => {
    let entered = () => {};
    const inAgent = new Promise<void>((resolve) => (entered = resolve));
    let release = () => {};
    gate = { entered, released: new Promise<void>((resolve) => (release = resolve)) };
    try {
      // The full view: the assertions compare the sessions' visit counts.
      const turn = client.sendTurn({ sessionId: "gate", input: { text: "my code is 1111" }, view: SendTurnView.FULL });
      await inAgent;
      const move = client.migrateSession({ sessionId: "gate", toVersion: "2" });
      release();
      const [t, m] = await Promise.all([turn, move]);
      // The turn ran on version 1 and was not run again; the move came after it.
      expect(t.session).toMatchObject({ flowVersion: "1", stage: "authentication", version: 2n });
      expect(m.session).toMatchObject({ flowVersion: "2", stage: "authentication", version: 3n });
      expect(m.session?.stageVisits).toEqual(t.session?.stageVisits);
    } finally {
      gate = undefined;
    }
  });

  it("batch migration through the CLI moves each call it can and reports the others refused with the reason", async () => {
    const out = await cli(["sessions", "migrate", "--flow", "contact-centre", "--version", "1", "--status", "waiting", "--to-version", "2"], server);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toMatch(/^rt +approval \(v1\) +supervisor_approval \(v2\) +migrated \(session version 7\)$/m);
    expect(out.stdout).toMatch(/^doc +approval \(v1\) +supervisor_approval \(v2\) +migrated \(session version 4\)$/m);
    expect(out.stdout).toMatch(/^big +refused \(see below\)$/m);
    expect(out.stdout).toContain("big refused: failed_precondition: session big cannot move to contact-centre@2: invariant");
    expect(out.stdout).toContain("2 of 3 sessions moved, 1 refused");
    expect((await client.getSession({ sessionId: "big" })).session?.flowVersion).toBe("1");
  });
});
