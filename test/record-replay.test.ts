import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BSON, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { contactCentreAgents } from "../agents/contact-centre/index.js";
import { main } from "../src/cli/switchboard.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import type { TurnInputSchema } from "../src/gen/switchboard/v1/turn_pb.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import type { SessionReplay } from "../src/testing/replay.js";
import type { ReplaySummary } from "../src/testing/replay-report.js";
import { repoRoot, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";

async function runCli(argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: "", err: "" };
  out.on("data", (c: Buffer) => (chunks.out += c.toString()));
  err.on("data", (c: Buffer) => (chunks.err += c.toString()));
  const code = await main(argv, { out, err, env: {} });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

type Input = MessageInitShape<typeof TurnInputSchema>;

/** The conversations the test holds with the real server, by session id. */
const conversations: Record<string, Input[]> = {
  // A refused turn, then a refund under 100.00 issued without approval.
  "rec-refund": [
    { text: "hello" },
    { text: "money back", intent: "refund" },
    { text: "my code is 1234" },
    { text: "I would like a refund of 40 for order A-17" },
    { text: "yes please" },
    { text: "thanks, bye" },
  ],
  // Three wrong codes: the call never reaches the lookup.
  "rec-queue": [{ text: "hello" }, { text: "1111" }, { text: "2222" }, { text: "3333" }],
  "rec-billing": [{ text: "hello" }, { text: "1234" }, { text: "a question about my bill" }, { text: "yes" }, { text: "bye" }],
};

const original = readFileSync(join(repoRoot, "flows/contact-centre.yaml"), "utf8");

/**
 * flowsWith writes a flow directory holding the contact-centre flow as it
 * is and a version 2 changed by `change`.
 */
function flowsWith(dir: string, change: (yaml: string) => string): string {
  mkdirSync(dir, { recursive: true });
  const v2 = change(original.replace('version: "1"', 'version: "2"'));
  expect(v2).not.toBe(original.replace('version: "1"', 'version: "2"'));
  writeFileSync(join(dir, "contact-centre.yaml"), original);
  writeFileSync(join(dir, "contact-centre-2.yaml"), v2);
  return dir;
}

/**
 * Sessions held with the real server (gRPC, the MongoDB store) are
 * recorded as test cases and replayed against other flow versions, through
 * the orchestrator's read API alone.
 */
describe("recording and replaying stored sessions", () => {
  const db = `switchboard_cases_${randomBytes(4).toString("hex")}`;
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: db };
  const tmp = mkdtempSync(join(tmpdir(), "switchboard-record-"));
  let agents: RunningAgent[] = [];
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;

  beforeAll(async () => {
    agents = await Promise.all(contactCentreAgents.map((a) => serveAgent({ ...a, host: "127.0.0.1", port: 0 })));
    orchestrator = await startOrchestratorProcess(
      agents.flatMap((a) => ["--agent", `${a.card.name}=${a.url}`]),
      env,
    );
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    for (const [sessionId, inputs] of Object.entries(conversations)) {
      for (const [i, input] of inputs.entries()) {
        const turn = client.sendTurn({ sessionId, accountId: "acct-42", flowId: i === 0 ? "contact-centre" : "", input });
        if (input.intent) await expect(turn).rejects.toThrow(/not allowed at stage "authentication"/);
        else await turn;
      }
    }
  }, 60_000);

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all(agents.map((a) => a.close()));
    rmSync(tmp, { recursive: true, force: true });
  });

  /** stored dumps every document of the test's database, in a stable order. */
  async function stored(): Promise<string> {
    const mongo = new MongoClient(inject("mongoUri"));
    try {
      const database = mongo.db(db);
      // The replica directory is each orchestrator's heartbeat, renewed every
      // few seconds whatever the sessions do: it is not what a replay writes.
      const names = (await database.listCollections().toArray())
        .map((c) => c.name)
        .filter((name) => name !== "replicas")
        .sort();
      const all: Record<string, unknown[]> = {};
      for (const name of names) all[name] = await database.collection(name).find({}).sort({ _id: 1 }).toArray();
      return BSON.EJSON.stringify(all, { relaxed: false });
    } finally {
      await mongo.close();
    }
  }

  it("writes a case that passes unchanged against the same flow version and fails against a changed one", async () => {
    const file = join(tmp, "recorded.yaml");
    const recorded = await runCli(["test", "record", "rec-refund", "--out", file, "--server", orchestrator.url]);
    expect(recorded.stderr).toContain(`wrote 6 turns of session rec-refund (contact-centre@1) to ${file}`);
    expect(recorded.code).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).toContain("flow: contact-centre@1");
    expect(text).toContain("error: failed_precondition");

    const same = await runCli(["test", file, "--flows", join(repoRoot, "flows")]);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain("ok   session rec-refund (6 turns, contact-centre@1");

    // Version 2 sends refunds above 30.00, not 100.00, to a supervisor.
    const flows = flowsWith(join(tmp, "threshold"), (y) => y.replace('state.refund_amount > 100.0', "state.refund_amount > 30.0"));
    const changed = await runCli(["test", file, "--flows", flows, "--flow", "contact-centre@2"]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain("FAIL session rec-refund (6 turns, contact-centre@2");
    expect(changed.stdout).toMatch(/turn 4 \(.*recorded\.yaml:\d+\): stage\n\s+expected: fulfilment\n\s+actual: +approval/);
  });

  it("runs a case against running agents for the agents it does not script", async () => {
    const file = join(tmp, "live.yaml");
    writeFileSync(
      file,
      ["flow: contact-centre@1", "stubs:", "  greeting: { text: 'Hi, scripted.' }", "cases:", "  - name: live", "    turns:", "      - text: hello", "        expect: { reply: 'Hi, scripted.' }", "      - text: my code is 1234", "        expect: { stage: intent_capture, agent: auth, reply: 'Thank you, you are verified.' }", ""].join("\n"),
    );
    const flows = join(repoRoot, "flows");
    const live = await runCli(["test", file, "--flows", flows, ...agents.flatMap((a) => ["--agent", `${a.card.name}=${a.url}`])]);
    expect(live.code, live.stdout + live.stderr).toBe(0);
    const alone = await runCli(["test", file, "--flows", flows]);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toContain("actual:   agent auth is called at stage authentication, but the case does not stub it");
  });

  it("replays sessions against a planted version, reporting the departing turn and state diff for exactly those it affects, writing nothing", async () => {
    const before = await stored();
    // Version 2 looks up the account and balance only, not the bill.
    const flows = flowsWith(join(tmp, "lookup"), (y) => y.replace("        - { name: billing, agent: billing }\n", ""));
    const json = await runCli(["replay", "rec-refund", "rec-queue", "rec-billing", "--flow", "contact-centre@2", "--flows", flows, "--server", orchestrator.url, "--json"]);
    expect(json.code, json.stderr).toBe(1);
    const { replays, summary } = JSON.parse(json.stdout) as { replays: SessionReplay[]; summary: ReplaySummary };
    const departed = Object.fromEntries(replays.map((r) => [r.session, r.departures[0]]));
    expect(Object.keys(departed)).toEqual(["rec-refund", "rec-queue", "rec-billing"]);
    expect(departed["rec-queue"]).toBeUndefined();
    expect(departed["rec-refund"]?.turn).toBe(3);
    expect(departed["rec-billing"]?.turn).toBe(2);
    for (const id of ["rec-refund", "rec-billing"]) {
      expect(departed[id]?.differ, id).toEqual([]);
      expect(departed[id]?.state, id).toEqual([{ key: "billing", recorded: { next_invoice: "2025-07-01", amount_due: 42.5 } }]);
    }
    expect(replays.every((r) => r.stopped === undefined)).toBe(true);
    expect(summary).toMatchObject({ replayed: 3, departed: 2, same: 1, departedAt: { authentication: 2 } });

    const text = await runCli(["replay", "rec-billing", "--flow", "contact-centre@2", "--flows", flows, "--server", orchestrator.url]);
    expect(text.stdout).toContain("rec-billing: contact-centre@1 → contact-centre@2: departs at turn 2 of 5, stage authentication");
    expect(text.stdout).toContain('    state   - billing: {"next_invoice":"2025-07-01","amount_due":42.5}');

    const batch = await runCli(["replay", "--from", "contact-centre@1", "--status", "completed", "--flow", "contact-centre@2", "--flows", flows, "--server", orchestrator.url]);
    expect(batch.code).toBe(1);
    expect(batch.stdout).toContain("replayed 2 sessions against contact-centre@2: 2 departed, 0 the same");
    expect(batch.stdout).toMatch(/departed at stage:\n\s+2 {2}authentication/);

    expect(await stored()).toBe(before);
  });

  it("stops where the recording cannot answer, or calls the live agent there with --live-agents", async () => {
    // Version 2 sends every request from intent capture straight to closing.
    const flows = flowsWith(join(tmp, "live"), (y) => y.replace("      - to: fulfilment\n        when: session.intent in", "      - to: closing\n        when: session.intent in"));
    const args = ["replay", "rec-refund", "--flow", "contact-centre@2", "--flows", flows, "--server", orchestrator.url, "--json"];
    const recorded = JSON.parse((await runCli(args)).stdout) as { replays: SessionReplay[] };
    const stopped = recorded.replays[0];
    expect(stopped?.departures).toEqual([{ turn: 4, stage: "intent_capture", input: "I would like a refund of 40 for order A-17", differ: [{ what: "stage", recorded: "fulfilment", replayed: "closing" }], state: [] }]);
    expect(stopped?.stopped).toEqual({ turn: 5, reason: "the recording has no reply of agent closing at stage closing (intent refund) in turn 5" });
    expect(stopped?.outcome.replayed).toBe("stopped at turn 5");

    const closing = agents.find((a) => a.card.name === "closing");
    const live = JSON.parse((await runCli([...args, "--live-agents", "--agent", `closing=${closing?.url}`])).stdout) as { replays: SessionReplay[] };
    const called = live.replays[0];
    expect(called?.stopped).toBeUndefined();
    expect(called?.departures.find((d) => d.turn === 5)?.differ).toContainEqual({ what: "reply", recorded: expect.stringContaining("has been issued") as string, replayed: "Thank you for calling Acme. Goodbye!" });
    expect(called?.departures.find((d) => d.turn === 5)?.differ).toContainEqual({ what: "status", recorded: "active", replayed: "completed" });
  });
});
