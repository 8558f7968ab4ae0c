import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Proc, repoRoot, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

const run = promisify(execFile);

/**
 * A stranger with grpcurl and no .proto files: everything comes from
 * server reflection.
 */
describe("grpcurl against a running orchestrator", () => {
  const grpcurl = inject("grpcurl");
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;
  let addr: string;

  const call = async (...args: string[]) => {
    try {
      return { ...(await run(grpcurl, ["-plaintext", ...args], { timeout: 20_000 })), code: 0 };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; code: number };
      return { stdout: err.stdout, stderr: err.stderr, code: err.code };
    }
  };

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`]);
    addr = `127.0.0.1:${orchestrator.port}`;
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.stop();
  });

  it("lists the services", async () => {
    const { stdout } = await call(addr, "list");
    expect(stdout.trim().split("\n").sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "switchboard.v1.OrchestratorService",
      "switchboard.v1.RegistryService",
      "switchboard.v1.RolloutService",
    ]);
  });

  it("describes the orchestrator service with its documentation", async () => {
    const { stdout } = await call(addr, "describe", "switchboard.v1.OrchestratorService");
    expect(stdout).toContain("switchboard.v1.OrchestratorService is a service:");
    expect(stdout).toContain("// SendTurn runs one turn and returns its full result.");
    expect(stdout).toMatch(/rpc SendTurn \( \.switchboard\.v1\.SendTurnRequest \) returns \( \.switchboard\.v1\.SendTurnResponse \);/);
    expect(stdout).toMatch(/rpc Converse \( stream \.switchboard\.v1\.ConverseRequest \) returns \( stream \.switchboard\.v1\.ConverseResponse \);/);
  });

  it("describes a message type across files", async () => {
    const { stdout } = await call(addr, "describe", "switchboard.v1.Session");
    expect(stdout).toContain("switchboard.v1.Session is a message:");
    expect(stdout).toContain(".google.protobuf.Struct state = 8;");
    expect(stdout).toContain("// The context variables of the conversation");
  });

  it("sends a turn with -d and reads the JSON answer", async () => {
    const { stdout } = await call(
      "-d",
      '{"session_id":"grpcurl-1","input":{"text":"hello from grpcurl"}}',
      addr,
      "switchboard.v1.OrchestratorService/SendTurn",
    );
    const res = JSON.parse(stdout) as { output: string; sessionId: string; session: { version: string } };
    expect(res.sessionId).toBe("grpcurl-1");
    expect(res.output).toBe("Hello! I am the echo agent. You said: hello from grpcurl");
    expect(res.session.version).toBe("1");
  });

  it("drives a Converse conversation from a file of messages (-d @)", async () => {
    const messages = readFileSync(join(repoRoot, "examples/conversation.jsonl"), "utf8");
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      const child = spawn(grpcurl, ["-plaintext", "-d", "@", addr, "switchboard.v1.OrchestratorService/Converse"]);
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("close", (c) => resolve({ stdout: out, stderr: err, code: c }));
      child.stdin.end(messages);
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    // grpcurl prints one JSON object per response.
    type Event = { seq?: string; turnId?: string; opened?: object; completed?: { result: { output: string; isComplete?: boolean } } };
    const events = (JSON.parse(`[${stdout.trim().replace(/}\s*\n{/g, "},{")}]`) as Array<{ event: Event }>).map((r) => r.event);
    expect(events[0]?.opened).toBeDefined();
    const completed = events.filter((e) => e.completed !== undefined);
    expect(completed.map((e) => [e.turnId, e.completed?.result.output])).toEqual([
      ["t1", "Hello! I am the echo agent. You said: hello"],
      ["t2", "You said: what can you do?"],
      ["t3", "You said: bye"],
    ]);
    expect(completed[2]?.completed?.result.isComplete).toBe(true);
    const seqs = events.slice(1).map((e) => Number(e.seq));
    expect(seqs.every((s, i) => s > 0 && (i === 0 || s > (seqs[i - 1] as number)))).toBe(true);
  });

  it("shows a clear status for an unknown session", async () => {
    const { stderr, code } = await call("-d", '{"session_id":"nobody"}', addr, "switchboard.v1.OrchestratorService/GetSession");
    expect(code).not.toBe(0);
    expect(stderr).toContain("Code: NotFound");
    expect(stderr).toContain("Message: session nobody not found");
  });

  it("checks health", async () => {
    const { stdout } = await call(addr, "grpc.health.v1.Health/Check");
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
    const svc = await call("-d", '{"service":"switchboard.v1.OrchestratorService"}', addr, "grpc.health.v1.Health/Check");
    expect(JSON.parse(svc.stdout)).toEqual({ status: "SERVING" });
  });

  it("describes an agent through the agent's own reflection", async () => {
    const agentAddr = agent.url.replace("http://", "");
    const { stdout } = await call(agentAddr, "switchboard.v1.AgentService/Describe");
    expect(JSON.parse(stdout)).toMatchObject({ card: { name: "echo", version: "1.0.0" } });
  });
});
