import { PassThrough } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/switchboard.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { Role } from "../src/gen/switchboard/v1/turn_pb.js";
import { type RunningOrchestrator, startOrchestratorProcess, switchboardCommand } from "./support/process.js";
import { Talker, talkFlowDir } from "./support/talker-agent.js";
import { Terminal } from "./support/terminal.js";

const story = "Once upon a time there was a very long story that nobody heard to the end. ";

/**
 * `switchboard chat` against a real orchestrator process, run as the
 * package's bin in a pseudo-terminal (test/support/pty-run.py) and typed
 * into like a person would. The agent runs in the test process, served by
 * the SDK on its own socket, and holds its replies at gates the test opens,
 * so "the reply is still streaming" is a fact, not a race.
 */
describe("switchboard chat in a terminal", () => {
  const talker = new Talker();
  let orchestrator: RunningOrchestrator;
  let unary: ReturnType<typeof createClient<typeof OrchestratorService>>;
  const terminals: Terminal[] = [];
  const sessionId = `chat-${Date.now().toString(36)}`;

  beforeAll(async () => {
    await talker.start();
    orchestrator = await startOrchestratorProcess(["--agent", `talker=${talker.agent.url}`, "--flows", talkFlowDir(), "--default-flow", "talk"]);
    unary = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    for (const t of terminals) await t.stop();
    await orchestrator?.stop();
    await talker.agent?.close();
  });

  const chat = (args: string[]) => {
    const t = new Terminal(process.execPath, [switchboardCommand, "chat", "--server", orchestrator.url, ...args]);
    terminals.push(t);
    return t;
  };
  const atPrompt = (t: Terminal) => t.waitFor("the prompt", (s) => s.cursorLine() === "you>");
  const turnOf = (text: string) => {
    const start = talker.starts.find((s) => s.input?.text === text);
    if (start === undefined) throw new Error(`the agent got no turn ${JSON.stringify(text)}`);
    return start.turnId;
  };
  const transcript = async (id: string) => {
    const { session } = await unary.getSession({ sessionId: id });
    return (session?.history ?? []).map((h) => [h.role === Role.USER ? "you" : h.agent, h.text, h.interrupted]);
  };

  it("streams replies as they come, barges in on Enter and on typing, and leaves with /quit", async () => {
    const term = chat(["--session", sessionId]);
    await term.waitForText(`· session ${sessionId} (new)`);
    await atPrompt(term);

    // A reply prints as it streams: the agent holds the rest at a gate.
    term.type("gate:one\r");
    await term.waitFor("the first part of the reply", (s) => s.cursorLine() === "talker> part one.");
    expect(talker.gate("one").opened).toBe(false);
    expect(term.screen.text()).not.toContain("part two");
    talker.gate("one").open();
    await atPrompt(term);
    expect(term.screen.lines().slice(-4)).toEqual(["you> gate:one", "talker> part one. part two.", "· stage greeting → chat", "you>"]);
    // On a terminal, notes are dimmed.
    expect(term.raw).toContain("\x1b[2m· stage greeting → chat\x1b[22m");

    // Enter while the agent talks barges in: the agent is cancelled.
    term.type("story:two\r");
    await term.waitForText("nobody heard to the end.");
    term.type("\r");
    await term.waitForText("[interrupted]");
    await talker.cancelled(turnOf("story:two"));
    await atPrompt(term);
    expect(term.screen.lines().slice(-3)).toEqual(["you> story:two", `talker> ${story}[interrupted]`, "you>"]);

    // Typing while the agent talks barges in too, and what is typed is the next turn.
    term.type("gate:three\r");
    await term.waitFor("the first part of the reply", (s) => s.cursorLine() === "talker> part one.");
    term.type("hello again\r");
    await term.waitForText("talker> You said: hello again");
    await atPrompt(term);
    await talker.cancelled(turnOf("gate:three"));
    expect(term.screen.lines().slice(-5)).toEqual([
      "you> gate:three",
      "talker> part one. [interrupted]",
      "you> hello again",
      "talker> You said: hello again",
      "you>",
    ]);
    expect(talker.gate("two").opened || talker.gate("three").opened).toBe(false);

    // The server recorded each interrupted reply as far as it was printed.
    expect(await transcript(sessionId)).toEqual([
      ["you", "gate:one", false],
      ["talker", "part one. part two.", false],
      ["you", "story:two", false],
      ["talker", story, true],
      ["you", "gate:three", false],
      ["talker", "part one. ", true],
      ["you", "hello again", false],
      ["talker", "You said: hello again", false],
    ]);

    term.type("/quit\r");
    expect(await term.exited).toBe(0);
  });

  it("shows the conversation so far with --resume, and leaves on Ctrl-D", async () => {
    const term = chat(["--session", sessionId, "--resume"]);
    await atPrompt(term);
    const lines = term.screen.lines();
    expect(lines[0]).toMatch(new RegExp(`^· session ${sessionId}: flow talk@1, stage chat, version \\d+$`));
    expect(lines[1]).toContain("Enter sends a line");
    expect(lines.slice(3)).toEqual([
      "you> gate:one",
      "talker> part one. part two.",
      "· stage greeting → chat",
      "you> story:two",
      `talker> ${story}[interrupted]`,
      "you> gate:three",
      "talker> part one. [interrupted]",
      "you> hello again",
      "talker> You said: hello again",
      "you>",
    ]);
    term.type("\x04");
    expect(await term.exited).toBe(0);
  });

  it("interrupts the reply and leaves on Ctrl-C, in a new session", async () => {
    const term = chat([]);
    await atPrompt(term);
    const id = /^· session (\S+) \(new\)$/.exec(term.screen.lines()[0] ?? "")?.[1];
    expect(id).toBeDefined();
    term.type("story:four\r");
    await term.waitForText("nobody heard to the end.");
    term.type("\x03");
    expect(await term.exited).toBe(0);
    expect(term.screen.lines().at(-1)).toBe(`talker> ${story}[interrupted]`);
    // The server ended the stream after the interrupted turn was committed.
    expect(await transcript(id as string)).toEqual([
      ["you", "story:four", false],
      ["talker", story, true],
    ]);
  });

  it("takes lines from a pipe one turn at a time, goes on after a failed turn, and prints no escapes", async () => {
    const input = new PassThrough();
    input.end("fail\nhello\n");
    const out = new PassThrough();
    let stdout = "";
    out.on("data", (c: Buffer) => (stdout += c.toString()));
    const code = await main(["chat", "--server", orchestrator.url, "--session", `${sessionId}-pipe`], { in: input, out, err: out, env: {} });
    expect(stdout).toBe(
      [
        `· session ${sessionId}-pipe (new)`,
        "you> fail",
        "! turn failed: failed_precondition: agent talker failed the turn: asked to fail",
        "you> hello",
        "talker> You said: hello",
        "· stage greeting → chat",
        "",
      ].join("\n"),
    );
    // A failed turn makes a script's exit code 1.
    expect(code).toBe(1);
  });
});
