import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { BreakerState, InstanceHealth, RegistryService } from "../src/gen/switchboard/v1/registry_pb.js";
import { type FlowDir, flowDir } from "./support/flows.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { answer, TestAgent } from "./support/test-agent.js";

const run = promisify(execFile);
const token = "s3cret-registration-token";

/**
 * The registry: agents register with a token and a lease, heartbeats keep
 * them, expiry and deregistration remove them, static agents come from a
 * file, and ListAgents shows every instance's state.
 */
describe("RegistryService", () => {
  const grpcurl = inject("grpcurl");
  let staticAgent: TestAgent;
  let leased: TestAgent;
  let flows: FlowDir;
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let registry: Client<typeof RegistryService>;

  const turn = (agent: string, sessionId: string) =>
    client.sendTurn({ sessionId, input: { text: "hi", intent: agent } }).then(
      (r) => r.output,
      (e: unknown) => ConnectError.from(e),
    );
  const listed = async (name: string) => (await registry.listAgents({ name })).instances;
  /** until polls `check` until it holds; a safety net bounds the wait. */
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000) => {
    const t0 = performance.now();
    while (!(await check())) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`${what} did not happen within ${timeoutMs}ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    staticAgent = await TestAgent.start("fixed", answer);
    leased = await TestAgent.start("leased", answer);
    flows = flowDir({
      id: "routes",
      version: "1",
      stages: [{ name: "main", transitions: [{ to: "main" }], agent: "fixed", intent_agents: { fixed: "fixed", leased: "leased", selfreg: "selfreg" } }],
    });
    const agentsFile = flows.write(
      "agents.yaml",
      `# static agents
agents:
  - name: fixed
    endpoint: ${staticAgent.url}
    version: "7.0"
    intents: [fixed]
limits:
  fixed:
    max_concurrent_turns: 8
`,
    );
    orchestrator = await startOrchestratorProcess(
      ["--flows", flows.dir, "--default-flow", "routes", "--agents-file", agentsFile, "--health-interval", "0.2"],
      { SWITCHBOARD_REGISTRY_TOKEN: token },
    );
    const transport = createGrpcTransport({ baseUrl: orchestrator.url });
    client = createClient(OrchestratorService, transport);
    registry = createClient(RegistryService, transport);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await Promise.all([staticAgent?.close(), leased?.close()]);
    flows?.remove();
  });

  it("requires the registration token when one is configured", async () => {
    const card = { name: "leased" };
    for (const req of [
      registry.register({ card, endpoint: leased.url }),
      registry.register({ card, endpoint: leased.url, token: "wrong" }),
      registry.heartbeat({ instanceId: "leased-123" }),
      registry.deregister({ instanceId: "leased-123" }),
    ]) {
      const err = await req.then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(err?.code).toBe(Code.Unauthenticated);
      expect(err?.rawMessage).toContain("--registry-token");
    }
    expect(await listed("leased")).toEqual([]);
    // The header works as well as the field.
    const ok = await registry.register({ card, endpoint: leased.url }, { headers: { authorization: `Bearer ${token}` } });
    await registry.deregister({ instanceId: ok.instanceId, token });
  });

  it.each([
    ["card", { endpoint: "http://127.0.0.1:1" }],
    ["card.name", { card: { name: "" }, endpoint: "http://127.0.0.1:1" }],
    ["card.name", { card: { name: "has space" }, endpoint: "http://127.0.0.1:1" }],
    ["endpoint", { card: { name: "x" }, endpoint: "" }],
    ["endpoint", { card: { name: "x" }, endpoint: "127.0.0.1:7001" }],
    ["endpoint", { card: { name: "x" }, endpoint: "ftp://127.0.0.1:7001" }],
  ])("answers INVALID_ARGUMENT naming %s for a bad registration", async (field, req) => {
    const err = await registry.register({ ...req, token }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage.startsWith(`${field}:`)).toBe(true);
  });

  it("lists static agents from the agents file with health, breaker, load and latency", async () => {
    expect(await turn("fixed", "static-1")).toBe("fixed: hi");
    await until("the static instance is healthy", async () => (await listed("fixed"))[0]?.health === InstanceHealth.SERVING);
    const [fixed] = await listed("fixed");
    expect(fixed?.source).toBe("static");
    expect(fixed?.endpoint).toBe(staticAgent.url);
    expect(fixed?.card?.version).toBe("7.0");
    expect(fixed?.card?.intents).toEqual(["fixed"]);
    expect(fixed?.breaker).toBe(BreakerState.CLOSED);
    expect(fixed?.inFlight).toBe(0);
    expect(durationMs(fixed!.recentLatency!)).toBeGreaterThanOrEqual(0);
    expect(fixed?.leaseExpireTime).toBeUndefined();
    const err = await registry.deregister({ instanceId: fixed!.instanceId, token }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.FailedPrecondition);
  });

  it("an expired lease removes the instance; a re-registration brings it back", async () => {
    const { instanceId, lease } = await registry.register({ card: { name: "leased" }, endpoint: leased.url, token, lease: { seconds: 1n } });
    expect(durationMs(lease!)).toBe(1000);
    expect(await turn("leased", "lease-1")).toBe("leased: hi");
    const [entry] = await listed("leased");
    expect(entry?.instanceId).toBe(instanceId);
    expect(entry?.source).toBe("registered");
    expect(timestampMs(entry!.leaseExpireTime!)).toBeGreaterThan(Date.now());

    // No heartbeat: the lease runs out.
    await until("the lease runs out", async () => (await listed("leased")).length === 0);
    const gone = await turn("leased", "lease-2");
    expect((gone as ConnectError).code).toBe(Code.Unavailable);
    expect((gone as ConnectError).rawMessage).toContain("agent leased has no live instance");
    const late = await registry.heartbeat({ instanceId, token }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(late?.code).toBe(Code.NotFound);

    const again = await registry.register({ card: { name: "leased" }, endpoint: leased.url, token });
    expect(again.instanceId).toBe(instanceId);
    expect(await turn("leased", "lease-3")).toBe("leased: hi");
    await registry.deregister({ instanceId, token });
  });

  it("a deregistration removes the instance at once; a re-registration brings it back", async () => {
    const { instanceId } = await registry.register({ card: { name: "leased" }, endpoint: leased.url, token });
    expect(await turn("leased", "dereg-1")).toBe("leased: hi");
    await registry.deregister({ instanceId, token });
    expect(await listed("leased")).toEqual([]);
    expect(((await turn("leased", "dereg-2")) as ConnectError).code).toBe(Code.Unavailable);
    const missing = await registry.deregister({ instanceId, token }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(missing?.code).toBe(Code.NotFound);
    await registry.register({ card: { name: "leased" }, endpoint: leased.url, token });
    expect(await turn("leased", "dereg-3")).toBe("leased: hi");
    await registry.deregister({ instanceId, token });
  });

  it("an SDK agent registers itself, keeps its lease alive past its length by heartbeat, and deregisters on close", async () => {
    const agent = await TestAgent.start("selfreg", answer, { orchestrator: orchestrator.url, token, leaseMs: 1000 });
    try {
      const id = agent.server.instanceId;
      const [first] = await listed("selfreg");
      expect(first?.instanceId).toBe(id);
      const firstExpiry = timestampMs(first!.leaseExpireTime!);
      // Two leases' time later it is still there, its lease renewed.
      await until("the lease is renewed past two lease lengths", async () => {
        const [e] = await listed("selfreg");
        return e !== undefined && timestampMs(e.leaseExpireTime!) > firstExpiry + 2000;
      });
      expect(await turn("selfreg", "self-1")).toBe("selfreg: hi");
    } finally {
      await agent.close();
    }
    expect(await listed("selfreg")).toEqual([]);
    expect(((await turn("selfreg", "self-2")) as ConnectError).code).toBe(Code.Unavailable);
  });

  it("answers ListAgents to grpcurl", async () => {
    const { stdout } = await run(grpcurl, ["-plaintext", "-d", '{"name":"fixed"}', `127.0.0.1:${orchestrator.port}`, "switchboard.v1.RegistryService/ListAgents"], {
      timeout: 20_000,
    });
    const res = JSON.parse(stdout) as { instances: Array<{ card: { name: string }; source: string; health: string; breaker: string }> };
    expect(res.instances).toHaveLength(1);
    expect(res.instances[0]).toMatchObject({ card: { name: "fixed" }, source: "static", health: "INSTANCE_HEALTH_SERVING", breaker: "BREAKER_STATE_CLOSED" });
  });
});
