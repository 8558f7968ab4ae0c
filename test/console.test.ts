import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { ConsoleBrowser, replyOf, screenshot, seriousViolations } from "./support/console-browser.js";
import { connectClient } from "./support/converse-clients.js";
import { type Proc, repoRoot, type RunningOrchestrator, startContactCentreAgentsProcess, startOrchestratorProcess } from "./support/process.js";
import { Talker, talkFlowDir, talkerWords } from "./support/talker-agent.js";

const acme = "acme-console-token-0123456789";
const globex = "globex-console-token-0123456789";

/**
 * The console, in real headless Chromium, against `switchboard serve` with
 * the talker and the contact-centre agents: it lists sessions, streams a
 * turn word by word, marks a barge-in where the user cut in, rolls back
 * and answers a waiting session, and shows another tenant nothing.
 */
describe("the console", () => {
  const talker = new Talker();
  let agents: Proc & { flags: string[] };
  let orchestrator: RunningOrchestrator;
  let browser: ConsoleBrowser;
  const grpc = (token: string) =>
    createClient(
      OrchestratorService,
      createGrpcTransport({
        baseUrl: orchestrator.url,
        interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
      }),
    );
  const open = (path: string, token = acme) => browser.open(orchestrator.url, { token, path });

  beforeAll(async () => {
    await talker.start();
    agents = await startContactCentreAgentsProcess();
    const flows = talkFlowDir();
    copyFileSync(join(repoRoot, "flows/contact-centre.yaml"), join(flows, "contact-centre.yaml"));
    const tokens = join(mkdtempSync(join(tmpdir(), "switchboard-console-")), "tokens.yaml");
    writeFileSync(tokens, `tokens:\n  - { name: acme, tenant: acme, token: "${acme}" }\n  - { name: globex, tenant: globex, token: "${globex}" }\n`);
    orchestrator = await startOrchestratorProcess([
      "--agent",
      `talker=${talker.agent.url}`,
      ...agents.flags,
      "--flows",
      flows,
      "--default-flow",
      "talk",
      "--auth-tokens",
      tokens,
    ]);
    browser = await ConsoleBrowser.launch();
  });

  afterAll(async () => {
    await browser?.close();
    await orchestrator?.stop();
    await agents?.stop();
    await talker.agent?.close();
  });

  /** expectAccessible fails with axe-core's findings when a view has a serious or critical violation. */
  const expectAccessible = async (page: Page, view: string) => {
    const found = await seriousViolations(page);
    expect(found, `${view}: ${JSON.stringify(found, null, 2)}`).toEqual([]);
  };
  const reply = replyOf;

  it("lists a new session, waiting ones first", async () => {
    await grpc(acme).sendTurn({ sessionId: "console-new", accountId: "acct-1", turnId: "t1", input: { text: "hello" } });
    const page = await open("/console/");
    await page.locator('table[data-testid=sessions] tr[data-session="console-new"]').waitFor();
    await expect(page.locator('tr[data-session="console-new"] td').nth(2).textContent()).resolves.toBe("talk@1");
    await screenshot(page, "sessions");
    await expectAccessible(page, "sessions");
    // The token stays in the tab's sessionStorage, nowhere that outlives it.
    const stored = await page.evaluate(() => {
      // Runs in the page, which has the Web Storage globals.
      const w = globalThis as unknown as { localStorage: { length: number }; sessionStorage: Record<string, string> };
      return { local: w.localStorage.length, session: Object.values(w.sessionStorage) };
    });
    expect(stored).toEqual({ local: 0, session: [acme] });
  });

  it("streams a turn sent over gRPC into the session view word by word", async () => {
    await grpc(acme).sendTurn({ sessionId: "console-words", turnId: "t1", input: { text: "hello" } });
    const page = await browser.openSession(orchestrator.url, "console-words", { token: acme });
    // The first turn, replayed from the session's events, shows its stage move.
    await page.locator('li[data-turn="t1"] .transition[data-from="greeting"][data-to="chat"]').waitFor();
    const turn = grpc(acme).sendTurn({ sessionId: "console-words", turnId: "t2", input: { text: "words:w" } });
    const seen: string[] = [];
    for (let i = 0; i < talkerWords.length; i++) {
      const expected = talkerWords.slice(0, i + 1).join(" ");
      await expect.poll(() => reply(page, "t2").textContent(), { timeout: 15_000, interval: 20 }).toBe(expected);
      // The turn is still running: the next word waits for this gate.
      if (i < talkerWords.length - 1) expect(await page.locator('li[data-turn="t2"]').getAttribute("data-state")).toBe("running");
      seen.push(expected);
      if (i === 1) await screenshot(page, "session-streaming");
      if (i + 1 < talkerWords.length) talker.gate(`w:${i + 1}`).open();
    }
    expect(seen).toHaveLength(talkerWords.length);
    await turn;
    await page.locator('li[data-turn="t2"][data-state="completed"]').waitFor();
    await page.locator('[data-testid=session-version]', { hasText: /^2$/ }).waitFor();
  });

  it("marks a barge-in at the offset the user heard", async () => {
    await grpc(acme).sendTurn({ sessionId: "console-barge", turnId: "t1", input: { text: "hello" } });
    const page = await browser.openSession(orchestrator.url, "console-barge", { token: acme });
    const stream = connectClient(orchestrator.url, createGrpcTransport({
      baseUrl: orchestrator.url,
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${acme}`), next(req))],
    })).converse();
    stream.send({ kind: { case: "open", value: { sessionId: "console-barge" } } });
    await stream.waitForKind("opened");
    stream.send({ kind: { case: "turn", value: { turnId: "b1", input: { text: "gate:b1" } } } });
    await stream.waitFor((e) => e.kind.case === "output" && e.kind.value.text === "part one. ");
    await expect.poll(() => reply(page, "b1").textContent(), { timeout: 15_000, interval: 20 }).toBe("part one. ");
    stream.send({ kind: { case: "bargeIn", value: { turnId: "b1", heardChars: 5 } } });
    await stream.waitForKind("interrupted");
    stream.end();
    const mark = page.locator('li[data-turn="b1"] mark.barge-in');
    await mark.waitFor();
    expect(await mark.getAttribute("data-heard-chars")).toBe("5");
    expect(await page.locator('li[data-turn="b1"] .heard').textContent()).toBe("part ");
    expect(await page.locator('li[data-turn="b1"] .unheard').textContent()).toBe("one. ");
    await screenshot(page, "session-barge-in");
    await expectAccessible(page, "session");
  });

  it("rolls back from the console, and gRPC sees the new version", async () => {
    const client = grpc(acme);
    await client.sendTurn({ sessionId: "console-rollback", turnId: "t1", input: { text: "hello" } });
    await client.sendTurn({ sessionId: "console-rollback", turnId: "t2", input: { text: "again" } });
    const page = await open("/console/sessions/console-rollback");
    await page.locator('[data-testid=session-version]', { hasText: /^2$/ }).waitFor();
    // The versions' difference: the second turn added to the transcript.
    await page.locator("table[data-testid=diff]").waitFor();
    await screenshot(page, "session-versions");
    await page.getByLabel("Roll back to").selectOption("1");
    await page.getByRole("button", { name: "Roll back", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Roll console-rollback back to version 1?" });
    await dialog.waitFor();
    await screenshot(page, "confirm-rollback");
    await dialog.getByRole("button", { name: "Roll back", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Rolled back: version 3 equals version 1." }).waitFor();
    const after = (await client.getSession({ sessionId: "console-rollback" })).session;
    expect(after?.version).toBe(3n);
    expect(after?.stage).toBe("chat");
    expect(after?.history.map((h) => h.turnId)).toEqual(["t1", "t1"]);
    const steps = (await client.listSteps({ sessionId: "console-rollback" })).steps;
    expect(steps.at(-1)?.details).toMatchObject({ rolled_back_to: "1", rolled_back_from: "2" });
  });

  it("answers a session waiting for a supervisor, after asking to confirm", async () => {
    const client = grpc(acme);
    const id = "console-call";
    await client.sendTurn({ sessionId: id, accountId: "acct-42", flowId: "contact-centre", input: { text: "hello" } });
    await client.sendTurn({ sessionId: id, input: { text: "my code is 1234" } });
    const waiting = await client.sendTurn({ sessionId: id, input: { text: "I would like a refund of 250 for order A-17" } });
    expect(waiting.session?.status).toBe(SessionStatus.WAITING);
    const list = await open("/console/");
    await list.locator(`table[data-testid=waiting-sessions] tr[data-session="${id}"]`).waitFor();
    await screenshot(list, "sessions-waiting");
    const page = await browser.openSession(orchestrator.url, id, { token: acme });
    await page.getByRole("heading", { name: "Answer the waiting session" }).waitFor();
    await screenshot(page, "session-waiting");
    await page.getByRole("button", { name: "Approve", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: `Approve session ${id}?` });
    await dialog.waitFor();
    await expectAccessible(page, "confirm dialog");
    await dialog.getByRole("button", { name: "Approve", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Approved" }).waitFor();
    const after = (await client.getSession({ sessionId: id })).session;
    expect(after?.status).toBe(SessionStatus.ACTIVE);
    expect(after?.stage).toBe("closing");
    expect(after?.state?.["approved"]).toBe(true);
    // The approval's turn streamed into the view with its stage moves.
    await page.locator('.transition[data-from="approval"][data-to="fulfilment"]').waitFor();
    await page.locator('[data-testid=session-stage]', { hasText: /^closing$/ }).waitFor();
    // The wait is over and its buttons gone; what the answer did stays said.
    await page.getByRole("heading", { name: "Answered" }).waitFor();
    await expect(page.getByRole("status").filter({ hasText: "Approved" }).textContent()).resolves.toBe("Approved: the session is active at stage closing (version 4).");
    const steps = (await client.listSteps({ sessionId: id })).steps;
    expect(steps.some((s) => s.intent === "approve" && s.input?.metadata["actor"] === "console")).toBe(true);
    await screenshot(page, "session-answered");
  });

  it("forks and deletes from the console, each after confirming", async () => {
    const client = grpc(acme);
    await client.sendTurn({ sessionId: "console-fork", turnId: "t1", input: { text: "hello" } });
    const page = await open("/console/sessions/console-fork");
    await page.locator("[data-testid=session-version]", { hasText: /^1$/ }).waitFor();
    await page.getByLabel("New session id (empty: generated)").fill("console-forked");
    await page.getByRole("button", { name: "Fork", exact: true }).click();
    await page.getByRole("dialog", { name: "Fork console-fork at version 1?" }).getByRole("button", { name: "Fork", exact: true }).click();
    await page.getByRole("heading", { name: "Session console-forked" }).waitFor();
    expect((await client.getSession({ sessionId: "console-forked" })).session?.origin).toMatchObject({ sessionId: "console-fork", version: 1n });
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete console-forked with all its versions and steps?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await client.getSession({ sessionId: "console-forked" })).session?.version).toBe(1n);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("heading", { name: "Sessions", level: 2 }).waitFor();
    await expect(client.getSession({ sessionId: "console-forked" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("shows a token of another tenant nothing of acme's sessions", async () => {
    const anonymous = await browser.open(orchestrator.url, { path: "/console/" });
    await anonymous.getByRole("alert").filter({ hasText: "unauthenticated: missing bearer token" }).first().waitFor();
    const page = await open("/console/", globex);
    await page.getByText("No sessions.").waitFor();
    expect(await page.locator("tr[data-session]").count()).toBe(0);
    const session = await open("/console/sessions/console-call", globex);
    await session.getByRole("alert").filter({ hasText: "not_found" }).waitFor();
    await session.getByText(/Not following: .*not_found/).waitFor();
    expect(await session.locator("li[data-turn]").count()).toBe(0);
    expect(await session.locator("[data-testid=session-summary]").count()).toBe(0);
  });

  it("draws a flow with its conditions, parallel branches, waits and live sessions per stage", async () => {
    const page = await open("/console/flows/contact-centre");
    const graph = page.locator("svg[data-testid=flow-graph]");
    await graph.waitFor();
    await graph.locator('g[data-stage="approval"].stage-waits').waitFor();
    await expect(graph.locator('g[data-stage="lookup"] .stage-marks').textContent()).resolves.toContain("parallel: 3 branches");
    await expect(graph.locator('g[data-stage="authentication"] .stage-marks').textContent()).resolves.toContain("compensation: revoke_token");
    expect(await graph.locator(".edge-label title", { hasText: 'session.intent == "refund" && state.refund_amount > 100.0' }).count()).toBe(1);
    expect(await graph.locator(".edge-failure").count()).toBe(1);
    // console-call sits at closing.
    await page.locator('table[data-testid=flow-stages] tr[data-stage="closing"] [data-testid=live-count]', { hasText: /^1$/ }).waitFor();
    await graph.locator('g[data-stage="closing"] .live-count').waitFor();
    await screenshot(page, "flows");
    await expectAccessible(page, "flows");
  });

  it("lists the agents with health, breaker, turns in flight and latency", async () => {
    const page = await open("/console/agents");
    const row = page.locator('table[data-testid=agents] tr[data-agent="talker"]');
    await row.waitFor();
    // Cells after the agent's name: version, endpoint, source, health, breaker, in flight, latency.
    await expect(row.locator("td").nth(3).textContent()).resolves.toMatch(/^(serving|not checked yet)$/);
    await expect(row.locator("td").nth(4).textContent()).resolves.toBe("closed");
    await expect(row.locator("td").nth(5).textContent()).resolves.toBe("0");
    await expect(row.locator("td").nth(6).textContent()).resolves.toMatch(/ ms$/);
    await screenshot(page, "agents");
    await expectAccessible(page, "agents");
  });
});
