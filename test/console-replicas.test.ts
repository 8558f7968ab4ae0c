import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { bargeInOf, ConsoleBrowser, liveText, replyOf, screenshot } from "./support/console-browser.js";
import { connectClient } from "./support/converse-clients.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { Talker, talkFlowDir, talkerWords } from "./support/talker-agent.js";

const acme = "acme-console-replicas-token-0123456789";

/**
 * The console in real headless Chromium, connected to replica 2 of two
 * `switchboard serve` processes on one database (FerretDB), while replica
 * 1 runs the session's turns with a real agent: the session view shows the
 * reply grow word by word, the finished turn, and a barge-in at the offset
 * the user heard, all relayed from replica 1; when replica 1 dies in the
 * middle of a turn, the view drops that turn and follows the session's
 * next turn on replica 2.
 */
describe("the console on any replica", () => {
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_console_replicas_${randomBytes(4).toString("hex")}` };
  const talker = new Talker();
  let r1: RunningOrchestrator;
  let r2: RunningOrchestrator;
  let browser: ConsoleBrowser;
  const transport = (r: RunningOrchestrator): Transport =>
    createGrpcTransport({
      baseUrl: r.url,
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${acme}`), next(req))],
    });
  const grpc = (r: RunningOrchestrator) => createClient(OrchestratorService, transport(r));

  /**
   * gatedTurnSeenOnReplica2 opens the console on replica 2 for a session
   * replica 1 started, then runs a turn on replica 1 over Converse whose
   * agent says "part one. " and waits for the turn's gate; it resolves once
   * the console shows that much of the reply.
   */
  async function gatedTurnSeenOnReplica2(sessionId: string, turnId: string) {
    await grpc(r1).sendTurn({ sessionId, turnId: "t1", input: { text: "hello" } });
    const page = await browser.openSession(r2.url, sessionId, { token: acme });
    const stream = connectClient(r1.url, transport(r1)).converse();
    stream.send({ kind: { case: "open", value: { sessionId } } });
    await stream.waitForKind("opened");
    stream.send({ kind: { case: "turn", value: { turnId, input: { text: `gate:${sessionId}` } } } });
    await expect.poll(() => replyOf(page, turnId).textContent(), { timeout: 15_000, interval: 20 }).toBe("part one. ");
    return { page, stream };
  }

  beforeAll(async () => {
    const agent = await talker.start();
    const tokens = join(mkdtempSync(join(tmpdir(), "switchboard-console-replicas-")), "tokens.yaml");
    writeFileSync(tokens, `tokens:\n  - { name: acme, tenant: acme, token: "${acme}" }\n`);
    const args = ["--flows", talkFlowDir(), "--default-flow", "talk", "--agent", `talker=${agent.url}`, "--auth-tokens", tokens, "--replica-heartbeat", "0.5"];
    r1 = await startOrchestratorProcess([...args, "--advertise-address", "127.0.0.1"], env);
    // Replica 2 reads the directory as it starts: it lists replica 1 at once.
    r2 = await startOrchestratorProcess([...args, "--advertise-address", "127.0.0.1"], env);
    browser = await ConsoleBrowser.launch();
  });

  afterAll(async () => {
    await browser?.close();
    await r1?.stop();
    await r2?.stop();
    await talker.agent?.close();
  });

  it("shows on replica 2 the turn replica 1 runs, word by word, then the finished turn", { timeout: 60_000 }, async () => {
    expect(r1.url).not.toBe(r2.url);
    await grpc(r1).sendTurn({ sessionId: "replicas-words", turnId: "t1", input: { text: "hello" } });
    const page = await browser.openSession(r2.url, "replicas-words", { token: acme });
    // The first turn, replayed from the session's events, shows its stage move.
    await page.locator('li[data-turn="t1"] .transition[data-from="greeting"][data-to="chat"]').waitFor();

    const turn = grpc(r1).sendTurn({ sessionId: "replicas-words", turnId: "t2", input: { text: "words:rw" } });
    for (let i = 0; i < talkerWords.length; i++) {
      const expected = talkerWords.slice(0, i + 1).join(" ");
      await expect.poll(() => replyOf(page, "t2").textContent(), { timeout: 15_000, interval: 20 }).toBe(expected);
      if (i < talkerWords.length - 1) {
        // Replica 1 still runs the turn: the next word waits for this gate.
        expect(talker.gate(`rw:${i + 1}`).opened).toBe(false);
        expect(await page.locator('li[data-turn="t2"]').getAttribute("data-state")).toBe("running");
      }
      if (i === 1) await screenshot(page, "session-other-replica");
      if (i + 1 < talkerWords.length) talker.gate(`rw:${i + 1}`).open();
    }
    const done = await turn;
    expect(done.output).toBe(talkerWords.join(" "));
    await page.locator('li[data-turn="t2"][data-state="completed"]').waitFor();
    await page.locator("[data-testid=session-version]", { hasText: /^2$/ }).waitFor();
    expect(await replyOf(page, "t2").textContent()).toBe(talkerWords.join(" "));
  });

  it("marks on replica 2 a barge-in on replica 1 at the offset the user heard", { timeout: 60_000 }, async () => {
    const { page, stream } = await gatedTurnSeenOnReplica2("replicas-barge", "b1");
    expect(await page.locator('li[data-turn="b1"]').getAttribute("data-state")).toBe("running");
    stream.send({ kind: { case: "bargeIn", value: { turnId: "b1", heardChars: 5 } } });
    await stream.waitForKind("interrupted");
    stream.end();
    expect(await bargeInOf(page, "b1")).toEqual({ heardChars: "5", heard: "part ", unheard: "one. " });
    await screenshot(page, "session-other-replica-barge-in");
  });

  it("drops the turn that died with replica 1, then shows the session's next turn on replica 2", { timeout: 60_000 }, async () => {
    const { page } = await gatedTurnSeenOnReplica2("replicas-crash", "c1");
    r1.child.kill("SIGKILL");
    await page.getByText(/^Not following: .*stopped answering while it ran turn c1 of session replicas-crash/).waitFor();
    // The view watches again from before the turn that died: what the
    // session committed since, which has nothing of that turn.
    await page.getByText(liveText).waitFor();
    await page.locator('li[data-turn="c1"]').waitFor({ state: "detached" });
    await grpc(r2).sendTurn({ sessionId: "replicas-crash", turnId: "c2", input: { text: "after the crash" } });
    await page.locator('li[data-turn="c2"][data-state="completed"]').waitFor();
    expect(await replyOf(page, "c2").textContent()).toBe("You said: after the crash");
    expect(await page.locator("li[data-turn]").evaluateAll((turns) => turns.map((t) => t.getAttribute("data-turn")))).toEqual(["t1", "c2"]);
  });
});
