import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, StepKind } from "../src/gen/switchboard/v1/session_pb.js";
import {
  type Proc,
  type RunningOrchestrator,
  startEchoAgentProcess,
  startOrchestratorProcess,
} from "./support/process.js";

/**
 * The first turn end to end: a gRPC client talks to a real orchestrator
 * process, which calls the sample echo agent, another real process.
 */
describe("orchestrator over gRPC", () => {
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.stop();
  });

  it("creates the session on its first turn and returns the agent's answer", async () => {
    const res = await client.sendTurn({ sessionId: "first-turn", accountId: "acct-1", input: { text: "hello" } });
    expect(res.sessionId).toBe("first-turn");
    expect(res.output).toBe("Hello! I am the echo agent. You said: hello");
    expect(res.agent).toBe("echo");
    expect(res.stageCompleted).toBe("greeting");
    expect(res.nextStage).toBe("conversation");
    expect(res.isComplete).toBe(false);
    expect(res.session?.version).toBe(1n);
    expect(res.session?.accountId).toBe("acct-1");
    expect(res.session?.state).toEqual({ turns: 1, last_heard: "hello" });
  });

  it("returns the stored session with GetSession", async () => {
    await client.sendTurn({ sessionId: "get-me", input: { text: "one" } });
    await client.sendTurn({ sessionId: "get-me", input: { text: "two" } });
    const { session } = await client.getSession({ sessionId: "get-me" });
    expect(session?.version).toBe(2n);
    expect(session?.stage).toBe("conversation");
    expect(session?.completedStages).toEqual(["greeting", "conversation"]);
    expect(session?.history.map((m) => m.text)).toEqual([
      "one",
      "Hello! I am the echo agent. You said: one",
      "two",
      "You said: two",
    ]);
    const { steps } = await client.listSteps({ sessionId: "get-me" });
    expect(steps.map((s) => [s.version, s.kind, s.stage, s.agent])).toEqual([
      [1n, StepKind.TURN, "greeting", "echo"],
      [2n, StepKind.TURN, "conversation", "echo"],
    ]);
    const { snapshots } = await client.listSnapshots({ sessionId: "get-me" });
    expect(snapshots.map((s) => s.version)).toEqual([1n, 2n]);
  });

  it("ends the conversation when the agent says so", async () => {
    await client.sendTurn({ sessionId: "bye", input: { text: "hi" } });
    const res = await client.sendTurn({ sessionId: "bye", input: { text: "bye now" } });
    expect(res.isComplete).toBe(true);
    expect(res.session?.status).toBe(SessionStatus.COMPLETED);
    expect(res.session?.summary?.stages).toEqual(["greeting", "conversation"]);
    const after = await client.sendTurn({ sessionId: "bye", input: { text: "hello?" } }).catch((e: unknown) => e);
    expect(ConnectError.from(after).code).toBe(Code.FailedPrecondition);
  });

  it("answers NOT_FOUND for an unknown session", async () => {
    const err = await client.getSession({ sessionId: "no-such-session" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toBe("session no-such-session not found");
  });

  it.each([
    ["session_id", { sessionId: "has space", input: { text: "x" } }],
    ["session_id", { sessionId: "$where", input: { text: "x" } }],
    ["session_id", { sessionId: "x".repeat(129), input: { text: "x" } }],
    ["turn_id", { sessionId: "ok", turnId: "../etc/passwd", input: { text: "x" } }],
    ["input", { sessionId: "ok" }],
    ["input", { sessionId: "ok", input: {} }],
    ["input.intent", { sessionId: "ok", input: { text: "x", intent: "refund request!" } }],
    ["input.text", { sessionId: "ok", input: { text: "x".repeat(64 * 1024 + 1) } }],
  ])("answers INVALID_ARGUMENT naming %s", async (field, req) => {
    const err = await client.sendTurn(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage.startsWith(`${field}:`)).toBe(true);
  });

  it("stores nothing for a malformed turn", async () => {
    await client.sendTurn({ sessionId: "bad-input", input: {} }).catch(() => undefined);
    const err = await client.getSession({ sessionId: "bad-input" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });

  it("answers UNAVAILABLE naming the agent when the agent cannot be reached", async () => {
    const lonely = await startOrchestratorProcess(["--agent", "echo=http://127.0.0.1:1"]);
    try {
      const c = createClient(OrchestratorService, createGrpcTransport({ baseUrl: lonely.url }));
      const err = await c.sendTurn({ sessionId: "s", input: { text: "hi" } }).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.Unavailable);
      expect(ConnectError.from(err).rawMessage).toContain("agent echo at http://127.0.0.1:1 is unavailable");
      const get = await c.getSession({ sessionId: "s" }).catch((e: unknown) => e);
      expect(ConnectError.from(get).code).toBe(Code.NotFound);
    } finally {
      await lonely.stop();
    }
  });

  it.each([
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" })],
    ["Connect over HTTP/2", () => createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" })],
  ])("serves %s on the same port", async (_, transport) => {
    const c = createClient(OrchestratorService, transport());
    const res = await c.sendTurn({ sessionId: `proto-${_.replace(/\W/g, "")}`, input: { text: "hi" } });
    expect(res.output).toBe("Hello! I am the echo agent. You said: hi");
  });
});
