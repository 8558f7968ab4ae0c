import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseFlowFile } from "../src/flows/flow-file.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { Action } from "../src/gen/switchboard/v1/turn_pb.js";
import { connectClient, type ConverseClient, type EventStream } from "./support/converse-clients.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { type Proc, repoRoot, type RunningOrchestrator, startCommand, startOrchestratorProcess } from "./support/process.js";
import { answer, TestAgent } from "./support/test-agent.js";
import { ensureA2aPython } from "./support/tools.js";

const failures = 2;
const coolDownMs = 1000;

/**
 * startWeatherDesk runs the sample A2A agent (examples/a2a-agent, built with
 * the official Python SDK) and resolves with its card URL once it serves.
 */
async function startWeatherDesk(python: string, port = 0): Promise<Proc & { card: string; port: number }> {
  const proc = startCommand(python, ["examples/a2a-agent/agent.py", "--port", String(port)], {}, "A2A weather desk");
  const line = await proc.waitForLine((l) => l.startsWith("listening on "));
  const p = Number(line.slice("listening on ".length));
  return Object.assign(proc, { port: p, card: `http://127.0.0.1:${p}/.well-known/agent-card.json` });
}

function outputs(stream: EventStream, turnId: string): string[] {
  return stream.events.filter((e) => e.turnId === turnId && e.kind.case === "output").map((e) => (e.kind.case === "output" ? e.kind.value.text : ""));
}

/**
 * A flow stage served by an A2A agent: a real agent built with the A2A
 * Python SDK, called by a real orchestrator beside real Switchboard agents,
 * with the mesh's deadlines, retries and breakers.
 */
describe("A2A agents as stage targets", () => {
  let python: string;
  let desk: Proc & { card: string; port: number };
  let second: Proc & { card: string; port: number };
  let front: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let converse: ConverseClient;
  let bogus: Server;
  let bogusCard = "";
  let a2a = "";

  beforeAll(async () => {
    python = ensureA2aPython();
    [desk, second] = await Promise.all([startWeatherDesk(python), startWeatherDesk(python)]);
    a2a = `a2a:${desk.card}`;
    // A card that offers only a binding Switchboard does not call.
    bogus = createServer((_, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ name: "gRPC only", description: "", version: "1", supportedInterfaces: [{ url: "http://127.0.0.1:1/", protocolBinding: "GRPC", protocolVersion: "1.0" }], capabilities: { streaming: true }, defaultInputModes: [], defaultOutputModes: [], skills: [] }));
    });
    await new Promise<void>((resolve) => bogus.listen(0, "127.0.0.1", resolve));
    bogusCard = `http://127.0.0.1:${(bogus.address() as AddressInfo).port}/.well-known/agent-card.json`;
    // The front desk answers, and hands a forecast over to the A2A agent in the same turn.
    front = await TestAgent.start("front", (turn, agent) =>
      turn.text.startsWith("forecast")
        ? Promise.resolve({ text: "One moment. ", next: { action: Action.HANDOFF, targetAgent: a2a } })
        : (answer(turn, agent) as ReturnType<typeof answer>),
    );
    flows = flowDir(
      {
        id: "desk",
        version: "1",
        stages: [
          // A hand-off makes its target serve the rest of the stage; the flow moves on to "chat" after it.
          { name: "front", agent: "front", transitions: [{ to: "weather", when: 'input.text == "weather desk"' }, { to: "chat" }] },
          { name: "chat", agent: "front", transitions: [{ to: "weather", when: 'input.text == "weather desk"' }, { to: "chat" }] },
          { name: "weather", agent: a2a, transitions: [{ to: "chat" }] },
        ],
      },
      { id: "weather", version: "1", stages: [{ name: "weather", agent: a2a, timeout: "1s", transitions: [{ to: "weather" }] }] },
      { id: "pair", version: "1", stages: [{ name: "weather", agent: "desks", transitions: [{ to: "weather" }] }] },
      { id: "missing-card", version: "1", stages: [{ name: "main", agent: `a2a:http://127.0.0.1:${desk.port}/no-such-card.json`, transitions: [{ to: "main" }] }] },
      { id: "grpc-only", version: "1", stages: [{ name: "main", agent: `a2a:${bogusCard}`, transitions: [{ to: "main" }] }] },
    );
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "desk",
      "--agent", `front=${front.url}`,
      "--agent", `desks=a2a:${desk.card}`,
      "--agent", `desks=a2a:${second.card}`,
      "--breaker-failures", String(failures),
      "--breaker-cooldown", String(coolDownMs / 1000),
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    converse = connectClient(orchestrator.url);
  }, 600_000);

  afterAll(async () => {
    converse?.close();
    await orchestrator?.stop();
    await Promise.all([desk?.stop(), second?.stop()]);
    await front?.close();
    bogus?.close();
    flows?.remove();
  });

  it("runs inside a conversation: a hand-off to the A2A agent streams word by word, its wait for input holds the session, and the Switchboard agent takes the next turn", async () => {
    const stream = converse.converse();
    stream.send({ kind: { case: "open", value: { sessionId: "talk" } } });
    await stream.waitForKind("opened");

    // The front desk hands the forecast to the A2A agent; each artifact update reaches the gateway as it comes.
    stream.send({ kind: { case: "turn", value: { turnId: "t1", input: { text: "forecast for Oslo" } } } });
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t1");
    expect(outputs(stream, "t1")).toEqual(["One moment. ", "Sunny", " in", " Oslo,", " 21", " degrees."]);
    let steps = (await client.listSteps({ sessionId: "talk" })).steps;
    const handedOff = steps.find((s) => s.agent === a2a);
    expect(handedOff).toMatchObject({ agent: a2a, instance: desk.card, attempts: 1, output: "Sunny in Oslo, 21 degrees.", stage: "front", nextStage: "chat", breaker: "closed" });
    expect(handedOff?.details["handoff_from"]).toBe("front");

    // Back with the Switchboard agent, which moves the session to the A2A agent's own stage.
    stream.send({ kind: { case: "turn", value: { turnId: "t2", input: { text: "weather desk" } } } });
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t2");
    expect(outputs(stream, "t2").join("")).toBe("front: weather desk");

    // INPUT_REQUIRED: the session waits, and the next turn continues the same A2A task.
    stream.send({ kind: { case: "turn", value: { turnId: "t3", input: { text: "forecast" } } } });
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
    expect(outputs(stream, "t3").join("")).toBe("Which city?");
    let session = (await client.getSession({ sessionId: "talk" })).session;
    expect(session?.status).toBe(SessionStatus.WAITING);
    expect(session?.waiting?.reason).toBe("Which city?");
    const pending = session?.state?.["a2a_task"] as { card: string; task_id: string };
    expect(pending.card).toBe(desk.card);

    stream.send({ kind: { case: "turn", value: { turnId: "t4", input: { text: "Bergen" } } } });
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t4");
    expect(outputs(stream, "t4")).toEqual(["Sunny", " in", " Bergen,", " 21", " degrees."]);
    session = (await client.getSession({ sessionId: "talk" })).session;
    expect(session?.stage).toBe("chat");
    expect(session?.state?.["a2a_task"]).toBeUndefined();

    // And the Switchboard agent again.
    stream.send({ kind: { case: "turn", value: { turnId: "t5", input: { text: "thanks" } } } });
    await stream.waitFor((e) => e.kind.case === "completed" && e.turnId === "t5");
    expect(outputs(stream, "t5").join("")).toBe("front: thanks");
    stream.end();

    steps = (await client.listSteps({ sessionId: "talk" })).steps;
    expect(steps.map((s) => [s.turnId, s.agent])).toEqual([
      ["t1", "front"],
      ["t1", a2a],
      ["t2", "front"],
      ["t3", a2a],
      ["t4", a2a],
      ["t5", "front"],
    ]);
    const [asked, answered] = steps.filter((s) => s.turnId === "t3" || s.turnId === "t4");
    expect(asked?.next?.action).toBe(Action.WAIT);
    expect(asked?.statePatch?.["a2a_task"]).toEqual(pending);
    expect(answered?.statePatch?.["a2a_task"]).toBeNull();
    expect(answered?.instance).toBe(desk.card);
    expect(front.starts.at(-1)?.history.map((h) => h.text)).toContain("Sunny in Bergen, 21 degrees.");
  });

  it("fails the turn with the A2A agent's reason when it rejects or fails the task, committing nothing", async () => {
    await client.sendTurn({ sessionId: "refusal", flowId: "weather", input: { text: "forecast for Rome" } });
    for (const [text, reason] of [
      ["refuse to", "A2A agent Weather desk rejected the task: I only do weather."],
      ["break it", "A2A agent Weather desk failed the task: the forecast service is down"],
    ] as const) {
      const err = await client.sendTurn({ sessionId: "refusal", input: { text } }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((err as ConnectError).rawMessage).toBe(`agent ${a2a} failed the turn: ${reason}`);
    }
    expect((await client.getSession({ sessionId: "refusal" })).session?.version).toBe(1n);
  });

  it("a task that waited for input and is gone meanwhile does not hold the session: the next turn starts a new task", async () => {
    await client.sendTurn({ sessionId: "stale", flowId: "weather", input: { text: "forecast" } });
    const pending = (await client.getSession({ sessionId: "stale" })).session?.state?.["a2a_task"] as { task_id: string };
    // The waiting task is rejected; the failed turn commits nothing, so the session still names it.
    const refused = await client.sendTurn({ sessionId: "stale", input: { text: "refuse it" } }).catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
    expect(((await client.getSession({ sessionId: "stale" })).session?.state?.["a2a_task"] as { task_id: string }).task_id).toBe(pending.task_id);
    const res = await client.sendTurn({ sessionId: "stale", input: { text: "forecast for Oslo" } });
    expect(res.output).toBe("Sunny in Oslo, 21 degrees.");
    expect((await client.getSession({ sessionId: "stale" })).session?.state?.["a2a_task"]).toBeUndefined();
  });

  it("a deadline that expires fails the turn with DEADLINE_EXCEEDED, cancels the A2A task and leaves the session unchanged", async () => {
    await client.sendTurn({ sessionId: "late", flowId: "weather", input: { text: "forecast for Lima" } });
    const before = (await client.getSession({ sessionId: "late" })).session;
    const cancelledBefore = desk.lines.filter((l) => l.startsWith("cancelled ")).length;
    const err = await client.sendTurn({ sessionId: "late", input: { text: "slow please" } }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect((err as ConnectError).rawMessage).toBe(`agent ${a2a} at ${desk.card} did not finish within 1000ms`);
    // The agent hears that its task was given up.
    await desk.waitForLine(() => desk.lines.filter((l) => l.startsWith("cancelled ")).length > cancelledBefore);
    const after = (await client.getSession({ sessionId: "late" })).session;
    expect(after?.version).toBe(before?.version);
    expect(after?.state).toEqual(before?.state);
    const failed = (await client.listSteps({ sessionId: "late" })).steps.at(-1);
    expect(failed?.agent).toBe(a2a);
    expect(failed?.instance).toBe(desk.card);
    expect(failed?.error).toEqual(expect.objectContaining({ code: "deadline_exceeded", message: `agent ${a2a} at ${desk.card} did not finish within 1000ms` }));
  });

  it("a barge-in while the A2A agent speaks ends the turn and cancels its task", async () => {
    const stream = converse.converse();
    stream.send({ kind: { case: "open", value: { sessionId: "barge", flowId: "weather" } } });
    await stream.waitForKind("opened");
    const cancelledBefore = desk.lines.filter((l) => l.startsWith("cancelled ")).length;
    stream.send({ kind: { case: "turn", value: { turnId: "b1", input: { text: "stall a bit" } } } });
    await stream.waitFor((e) => e.kind.case === "output" && e.turnId === "b1");
    stream.send({ kind: { case: "bargeIn", value: { turnId: "b1", heardChars: 5 } } });
    await stream.waitFor((e) => e.kind.case === "interrupted" && e.turnId === "b1");
    await desk.waitForLine(() => desk.lines.filter((l) => l.startsWith("cancelled ")).length > cancelledBefore);
    stream.end();
    const [step] = (await client.listSteps({ sessionId: "barge" })).steps;
    expect(step?.agent).toBe(a2a);
    expect(step?.output).toBe("Check");
  });

  it("balances over several card URLs given as instances of one agent, and retries on another when one is down", async () => {
    const first = await client.sendTurn({ sessionId: "pair", flowId: "pair", input: { text: "forecast for Riga" } });
    expect(first.output).toBe("Sunny in Riga, 21 degrees.");
    expect(first.agent).toBe("desks");
    await second.stop("SIGKILL");
    for (let i = 0; i < 4; i++) {
      const res = await client.sendTurn({ sessionId: "pair", input: { text: `forecast for Turku ${i}` } });
      expect(res.output).toBe(`Sunny in Turku ${i}, 21 degrees.`);
    }
    const steps = (await client.listSteps({ sessionId: "pair" })).steps;
    expect(new Set(steps.map((s) => s.instance))).toContain(desk.card);
    // A turn picked the stopped instance at most until its first failure, then went to the other.
    expect(steps.slice(1).every((s) => s.instance === desk.card)).toBe(true);
  });

  it("a card that cannot be read, or offers no binding Switchboard calls, fails the first call with a clear error", async () => {
    const missing = await client.sendTurn({ sessionId: "no-card", flowId: "missing-card", input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((missing as ConnectError).rawMessage).toMatch(
      new RegExp(`no A2A agent card could be read at http://127\\.0\\.0\\.1:${desk.port}/no-such-card\\.json \\(HTTP 404\\); check the URL in the flow$`),
    );
    const grpcOnly = await client.sendTurn({ sessionId: "grpc-only", flowId: "grpc-only", input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
    expect((grpcOnly as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((grpcOnly as ConnectError).rawMessage).toContain(
      `the A2A agent card at ${bogusCard} offers no interface Switchboard can call: it offers GRPC at http://127.0.0.1:1/; Switchboard calls JSONRPC or HTTP+JSON`,
    );
    expect((await client.getSession({ sessionId: "no-card" }).catch((e: unknown) => ConnectError.from(e))) instanceof ConnectError).toBe(true);
  });

  it("when the A2A agent is down, turns retry and then its breaker opens; it closes again once the agent is back", async () => {
    await client.sendTurn({ sessionId: "outage", flowId: "weather", input: { text: "forecast for Quito" } });
    await desk.stop("SIGKILL");
    const down = await client.sendTurn({ sessionId: "outage", input: { text: "forecast for Cusco" } }).catch((e: unknown) => ConnectError.from(e));
    expect((down as ConnectError).code).toBe(Code.Unavailable);
    expect((down as ConnectError).rawMessage).toMatch(new RegExp(`^agent ${escape(a2a)} at ${escape(desk.card)} is unavailable: connect ECONNREFUSED`));
    const failedStep = (await client.listSteps({ sessionId: "outage" })).steps.at(-1);
    expect(failedStep?.attempts).toBe(failures);

    const open = await client.sendTurn({ sessionId: "outage", input: { text: "forecast for Cusco" } }).catch((e: unknown) => ConnectError.from(e));
    expect((open as ConnectError).code).toBe(Code.Unavailable);
    expect((open as ConnectError).rawMessage).toMatch(new RegExp(`^agent ${escape(a2a)} is unavailable: the circuit breakers of all its 1 instance\\(s\\) are open`));
    expect((await client.getSession({ sessionId: "outage" })).session?.version).toBe(1n);

    // Back on the same port: after the cool-down a probe goes through and closes the breaker.
    desk = await startWeatherDesk(python, desk.port);
    let res;
    for (let i = 0; res === undefined; i++) {
      res = await client.sendTurn({ sessionId: "outage", input: { text: "forecast for Cusco" } }).catch(() => undefined);
      if (res === undefined) await new Promise((r) => setTimeout(r, 100));
      expect(i).toBeLessThan(100);
    }
    expect(res.output).toBe("Sunny in Cusco, 21 degrees.");
    expect((await client.listSteps({ sessionId: "outage" })).steps.at(-1)?.breaker).toBe("half_open");
    const after = await client.sendTurn({ sessionId: "outage", input: { text: "forecast for Lima" } });
    expect(after.output).toBe("Sunny in Lima, 21 degrees.");
    expect((await client.listSteps({ sessionId: "outage" })).steps.at(-1)?.breaker).toBe("closed");
  });
});

describe("the sample flow with an A2A stage", () => {
  it("is valid without the A2A agent running: its card is read at the first call", () => {
    const file = "examples/a2a-agent/weather-desk.yaml";
    const parsed = parseFlowFile(readFileSync(`${repoRoot}/${file}`, "utf8"), file, { knownAgents: (a) => a === "echo" });
    expect(parsed.problems).toEqual([]);
    expect(parsed.flow?.stages.map((s) => s.agent)).toEqual(["echo", "a2a:http://127.0.0.1:9100/.well-known/agent-card.json"]);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
