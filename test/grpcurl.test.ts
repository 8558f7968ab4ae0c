import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Proc, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

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
