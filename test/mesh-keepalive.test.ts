import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { BreakerState, InstanceHealth, RegistryService } from "../src/gen/switchboard/v1/registry_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { PingTap } from "./support/ping-tap.js";
import { jsonLine, type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { type Behaviour, TestAgent } from "./support/test-agent.js";

const keepaliveTimeoutMs = 500;
const stoppedMs = 2000;

/**
 * A stalled orchestrator does not blame its agents: the orchestrator
 * process is stopped (SIGSTOP) with a keepalive PING to an agent in
 * flight, for four times the keepalive timeout, while a turn streams. The
 * agent answered the PING on time; the answer waited in the stopped
 * process's socket. After SIGCONT the connection is kept, the agent is not
 * marked unavailable, and the turn completes.
 */
describe("keepalive of a stalled orchestrator", () => {
  let agent: TestAgent;
  let tap: PingTap;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator | undefined;

  afterAll(async () => {
    if (orchestrator !== undefined) {
      orchestrator.child.kill("SIGCONT");
      await orchestrator.stop("SIGKILL");
    }
    await tap?.close();
    await agent?.close();
    flows?.remove();
  });

  it("does not give up an agent's connection for a PING timeout that fired while the orchestrator itself was stopped", async () => {
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let sentFirst: () => void = () => {};
    const firstSent = new Promise<void>((resolve) => (sentFirst = resolve));
    // Streams a first piece, keeps quiet (so the orchestrator pings) until
    // the test lets it go on, then streams the rest.
    const slow: Behaviour = async function* () {
      yield "one ";
      sentFirst();
      await finished;
      yield "two";
    };
    agent = await TestAgent.start("slow", slow);
    tap = await PingTap.start({ host: "127.0.0.1", port: Number(new URL(agent.url).port) });
    flows = flowDir({ id: "slow", version: "1", stages: [{ name: "main", agent: "slow", transitions: [{ to: "main" }] }] });
    orchestrator = await startOrchestratorProcess([
      "--flows", flows.dir,
      "--default-flow", "slow",
      "--agent", `slow=${tap.url}`,
      "--agent-keepalive", "0.3",
      "--agent-keepalive-timeout", String(keepaliveTimeoutMs / 1000),
      "--health-interval", "1",
    ]);
    const proc = orchestrator;
    const pid = proc.child.pid as number;
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: proc.url }));

    const reply = client.sendTurn({ sessionId: "stalled-1", input: { text: "go" } }).catch((e: unknown) => ConnectError.from(e));
    await firstSent;
    // The next PING the orchestrator sends finds it stopped before the answer comes back.
    const stopped = new Promise<void>((resolve) => {
      tap.onPing = () => {
        tap.onPing = () => {};
        process.kill(pid, "SIGSTOP");
        resolve();
      };
    });
    await stopped;
    await new Promise((resolve) => setTimeout(resolve, stoppedMs));
    process.kill(pid, "SIGCONT");
    // Let the resumed process run its timers before the agent goes on.
    await new Promise((resolve) => setTimeout(resolve, 500));
    finish();

    const res = await reply;
    if (res instanceof ConnectError) throw new Error(`the turn failed: ${res.message}; orchestrator output:\n${proc.lines.join("\n")}`);
    expect(res.output).toBe("one two");
    const lines = proc.lines.map(jsonLine).filter((l) => l !== undefined);
    expect(lines.filter((l) => l["msg"] === "instance state" && l["state"] !== "serving" && l["state"] !== "closed")).toEqual([]);
    expect(proc.lines.join("\n")).not.toContain("PING timed out");
    const registry = createClient(RegistryService, createGrpcTransport({ baseUrl: proc.url }));
    const { instances } = await registry.listAgents({});
    expect(instances.map((i) => [i.health, i.breaker])).toEqual([[InstanceHealth.SERVING, BreakerState.CLOSED]]);
  });
});
