import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService, SendTurnView } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, StepStatus } from "../src/gen/switchboard/v1/session_pb.js";
import { Action } from "../src/gen/switchboard/v1/turn_pb.js";
import {
  type RunningAgentProcess,
  type RunningOrchestrator,
  startEchoAgentProcess,
  startGoAgentProcess,
  startOrchestratorProcess,
  startPythonAgentProcess,
} from "./support/process.js";
import { startJavaAgentProcess } from "./support/sdk-project.js";

/**
 * One conversation across three languages, each a process of its own: the
 * TypeScript echo agent greets, the Python agent serves support and hands
 * the caller to the Go agent in the same turn, the Go agent wraps up. The
 * agents report in the session state what they received, so the test sees
 * the transcript and the state cross from one language to the next.
 */
describe("a conversation served by TypeScript, Python and Go agents", () => {
  let ts: RunningAgentProcess;
  let python: RunningAgentProcess;
  let go: RunningAgentProcess;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  const sessionId = "polyglot-1";

  beforeAll(async () => {
    [ts, python, go] = await Promise.all([
      startEchoAgentProcess(),
      startPythonAgentProcess(inject("python")),
      startGoAgentProcess(inject("goAgent")),
    ]);
    orchestrator = await startOrchestratorProcess([
      "--flows",
      "test/fixtures/polyglot",
      "--default-flow",
      "polyglot",
      "--agent",
      `echo=${ts.url}`,
      "--agent",
      `python=${python.url}`,
      "--agent",
      `go=${go.url}`,
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([ts?.stop(), python?.stop(), go?.stop()]);
  });

  it("greets in TypeScript, hands over from Python to Go with the transcript and state, and ends in Go", async () => {
    const first = await client.sendTurn({ sessionId, accountId: "acct-7", input: { text: "hello" } });
    expect(first.agent).toBe("echo");
    expect(first.output).toBe("Hello! I am the echo agent. You said: hello");
    expect(first.nextStage).toBe("support");

    const said = "my parcel is late, can @go help?";
    const second = await client.sendTurn({ sessionId, input: { text: said } });
    expect(second.output).toBe(`python heard: ${said}\ngo here, taking over from python. You said: ${said}`);
    expect(second.agent).toBe("go");
    expect(second.stageCompleted).toBe("support");
    expect(second.nextStage).toBe("wrap-up");
    expect(second.isComplete).toBe(false);
    const state = second.session?.state ?? {};
    // Python saw what the TypeScript agent left: its state and its reply.
    expect(state["python"]).toEqual({
      turns: 1,
      language: "python",
      history: 2,
      last_message: "echo: Hello! I am the echo agent. You said: hello",
      handoff_from: "",
      state_keys: ["last_heard", "turns"],
    });
    // Go, handed the conversation by Python in the same turn, saw Python's
    // state patch and Python's reply in the transcript.
    expect(state["go"]).toEqual({
      turns: 1,
      language: "go",
      history: 4,
      last_message: `python: python heard: ${said}`,
      handoff_from: "python",
      state_keys: ["last_heard", "python", "served_by", "turns"],
    });
    expect(state["served_by"]).toEqual(["python", "go"]);
    expect(state["turns"]).toBe(1);

    const third = await client.sendTurn({ sessionId, input: { text: "thanks, bye" }, view: SendTurnView.FULL });
    expect(third.agent).toBe("go");
    expect(third.output).toBe("go heard: thanks, bye");
    expect(third.isComplete).toBe(true);
    expect(third.session?.status).toBe(SessionStatus.COMPLETED);
    expect(third.session?.state?.["served_by"]).toEqual(["python", "go", "go"]);
    expect(third.session?.summary?.agents).toEqual(["echo", "python", "go"]);
    // A hand-off continues the stage it happened in: one completion of "support".
    expect(third.session?.summary?.stages).toEqual(["greeting", "support", "wrap-up"]);
    expect(third.session?.history.map((m) => [m.agent, m.text])).toEqual([
      ["", "hello"],
      ["echo", "Hello! I am the echo agent. You said: hello"],
      ["", said],
      ["python", `python heard: ${said}`],
      ["go", `go here, taking over from python. You said: ${said}`],
      ["", "thanks, bye"],
      ["go", "go heard: thanks, bye"],
    ]);
  });

  it("records every language's step, with the hand-off, in the audit trail", async () => {
    const { steps } = await client.listSteps({ sessionId });
    expect(
      steps.map((s) => [s.version, s.stage, s.agent, s.instance, s.status, s.next?.action, s.next?.targetAgent, s.nextStage]),
    ).toEqual([
      [1n, "greeting", "echo", ts.url, StepStatus.OK, Action.ADVANCE, "", "support"],
      [2n, "support", "python", python.url, StepStatus.OK, Action.HANDOFF, "go", "support"],
      [2n, "support", "go", go.url, StepStatus.OK, Action.ADVANCE, "", "wrap-up"],
      [3n, "wrap-up", "go", go.url, StepStatus.OK, Action.END, "", "wrap-up"],
    ]);
    expect(steps[2]?.details).toMatchObject({ handoff_from: "python" });
    expect(steps[1]?.output).toBe("python heard: my parcel is late, can @go help?");
    expect(steps[1]?.statePatch?.["served_by"]).toEqual(["python"]);
  });

  it("keeps a snapshot of the state after each turn", async () => {
    const { snapshots } = await client.listSnapshots({ sessionId });
    expect(snapshots.map((s) => s.version)).toEqual([1n, 2n, 3n]);
    expect(snapshots[0]?.session?.state).toEqual({ turns: 1, last_heard: "hello" });
    expect(snapshots[0]?.session?.stage).toBe("support");
    expect(snapshots[1]?.session?.stage).toBe("wrap-up");
    expect(snapshots[1]?.session?.state?.["served_by"]).toEqual(["python", "go"]);
    expect(Object.keys(snapshots[1]?.session?.state ?? {}).sort()).toEqual(["go", "last_heard", "python", "served_by", "turns"]);
    expect(snapshots[2]?.session?.status).toBe(SessionStatus.COMPLETED);
    expect((snapshots[2]?.session?.state?.["go"] as { turns: number }).turns).toBe(2);
  });
});

/**
 * The same across four languages, with two hand-offs: Python hands the
 * caller to Java, and Java, a stage later, to Go. Each agent is its
 * language's sample, written with that language's SDK.
 */
describe("a conversation served by TypeScript, Python, Java and Go agents", () => {
  let ts: RunningAgentProcess;
  let python: RunningAgentProcess;
  let java: RunningAgentProcess;
  let go: RunningAgentProcess;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  const sessionId = "polyglot-4";
  const toJava = "my parcel is late, can @java help?";
  const toGo = "it is still missing, can @go sort it out?";

  beforeAll(async () => {
    [ts, python, java, go] = await Promise.all([
      startEchoAgentProcess(),
      startPythonAgentProcess(inject("python")),
      startJavaAgentProcess(inject("sdks").javaSampleClasspath),
      startGoAgentProcess(inject("goAgent")),
    ]);
    orchestrator = await startOrchestratorProcess([
      "--flows",
      "test/fixtures/polyglot-four",
      "--default-flow",
      "polyglot-four",
      "--agent",
      `echo=${ts.url}`,
      "--agent",
      `python=${python.url}`,
      "--agent",
      `java=${java.url}`,
      "--agent",
      `go=${go.url}`,
    ]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([ts?.stop(), python?.stop(), java?.stop(), go?.stop()]);
  });

  it("hands the caller from Python to Java and from Java to Go, with the transcript and state", async () => {
    const first = await client.sendTurn({ sessionId, accountId: "acct-7", input: { text: "hello" } });
    expect(first.agent).toBe("echo");
    expect(first.nextStage).toBe("support");

    const second = await client.sendTurn({ sessionId, input: { text: toJava } });
    expect(second.output).toBe(`python heard: ${toJava}\njava here, taking over from python. You said: ${toJava}`);
    expect(second.agent).toBe("java");
    expect(second.stageCompleted).toBe("support");
    expect(second.nextStage).toBe("escalation");
    // Java, handed the conversation by Python in the same turn, saw Python's
    // state patch and Python's reply in the transcript.
    expect(second.session?.state?.["java"]).toEqual({
      turns: 1,
      language: "java",
      history: 4,
      last_message: `python: python heard: ${toJava}`,
      handoff_from: "python",
      state_keys: ["last_heard", "python", "served_by", "turns"],
    });

    const third = await client.sendTurn({ sessionId, input: { text: toGo } });
    expect(third.output).toBe(`java heard: ${toGo}\ngo here, taking over from java. You said: ${toGo}`);
    expect(third.agent).toBe("go");
    expect(third.stageCompleted).toBe("escalation");
    expect(third.nextStage).toBe("wrap-up");
    expect(third.session?.state?.["java"]).toMatchObject({ turns: 2, language: "java", handoff_from: "" });
    expect(third.session?.state?.["go"]).toEqual({
      turns: 1,
      language: "go",
      history: 7,
      last_message: `java: java heard: ${toGo}`,
      handoff_from: "java",
      state_keys: ["java", "last_heard", "python", "served_by", "turns"],
    });

    const fourth = await client.sendTurn({ sessionId, input: { text: "thanks, bye" } });
    expect(fourth.agent).toBe("go");
    expect(fourth.output).toBe("go heard: thanks, bye");
    expect(fourth.isComplete).toBe(true);
    expect(fourth.session?.state?.["served_by"]).toEqual(["python", "java", "java", "go", "go"]);
    expect(fourth.session?.summary?.agents).toEqual(["echo", "python", "java", "go"]);
    expect(fourth.session?.summary?.stages).toEqual(["greeting", "support", "escalation", "wrap-up"]);
  });

  it("records every language's step, with both hand-offs, in the audit trail", async () => {
    const { steps } = await client.listSteps({ sessionId });
    expect(
      steps.map((s) => [s.version, s.stage, s.agent, s.instance, s.status, s.next?.action, s.next?.targetAgent, s.nextStage]),
    ).toEqual([
      [1n, "greeting", "echo", ts.url, StepStatus.OK, Action.ADVANCE, "", "support"],
      [2n, "support", "python", python.url, StepStatus.OK, Action.HANDOFF, "java", "support"],
      [2n, "support", "java", java.url, StepStatus.OK, Action.ADVANCE, "", "escalation"],
      [3n, "escalation", "java", java.url, StepStatus.OK, Action.HANDOFF, "go", "escalation"],
      [3n, "escalation", "go", go.url, StepStatus.OK, Action.ADVANCE, "", "wrap-up"],
      [4n, "wrap-up", "go", go.url, StepStatus.OK, Action.END, "", "wrap-up"],
    ]);
    expect(steps[2]?.details).toMatchObject({ handoff_from: "python" });
    expect(steps[4]?.details).toMatchObject({ handoff_from: "java" });
  });

  it("keeps a snapshot of the state after each turn", async () => {
    const { snapshots } = await client.listSnapshots({ sessionId });
    expect(snapshots.map((s) => s.version)).toEqual([1n, 2n, 3n, 4n]);
    expect(snapshots.map((s) => s.session?.stage)).toEqual(["support", "escalation", "wrap-up", "wrap-up"]);
    expect(snapshots[1]?.session?.state?.["served_by"]).toEqual(["python", "java"]);
    expect(snapshots[2]?.session?.state?.["served_by"]).toEqual(["python", "java", "java", "go"]);
    expect(snapshots[3]?.session?.status).toBe(SessionStatus.COMPLETED);
  });
});
