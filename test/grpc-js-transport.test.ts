import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { AgentService, TurnStartSchema } from "../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import type { AgentCall } from "../src/core/ports.js";
import type { TransportFactory } from "../src/mesh/connection-pool.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry, type StaticInstance } from "../src/mesh/registry.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { createGrpcJsTransport, grpcJsTransport } from "../src/mesh/grpc-js-transport.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { freePort } from "./support/ferretdb.js";
import { type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess, startSwitchboard, type Proc } from "./support/process.js";

/**
 * AgentPool is the mesh over statically configured instances, with the
 * given transport: what the orchestrator calls agents through.
 */
class AgentPool {
  private readonly statics: StaticInstance[] = [];
  private mesh: Mesh | undefined;
  private registry: Registry | undefined;
  constructor(private readonly transport?: TransportFactory) {}
  add(name: string, endpoint: string): void {
    this.statics.push({ name, endpoint });
  }
  async invoke(call: AgentCall) {
    if (this.mesh === undefined) {
      this.registry = new Registry({ store: new MemoryRegistryStore(), statics: this.statics });
      await this.registry.start();
      this.mesh = new Mesh(this.registry, this.transport !== undefined ? { transport: this.transport } : {});
    }
    return this.mesh.invoke(call);
  }
}

const start = (text: string, metadata: Record<string, string> = {}) =>
  create(TurnStartSchema, { sessionId: "s1", turnId: "t1", stage: "conversation", input: { text }, metadata });

/**
 * The Connect Transport over a grpc-js channel, against a real agent
 * server (Connect's, as the SDK serves it) on a real socket: the same
 * answers and the same errors as Connect's own gRPC transport.
 */
describe("grpc-js transport", () => {
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await serveAgent({ ...echoAgent });
  });

  afterAll(async () => {
    await agent?.close();
  });

  it("streams a turn's deltas and result exactly as Connect's transport does", async () => {
    const run = async (pool: AgentPool) => {
      pool.add("echo", agent.url);
      const deltas: string[] = [];
      const outcome = await pool.invoke({ agent: "echo", start: start("hi there"), signal: new AbortController().signal, timeoutMs: 5000, onDelta: (d) => void deltas.push(d.text) });
      return { deltas, result: outcome.result };
    };
    const viaGrpcJs = await run(new AgentPool(grpcJsTransport));
    const viaConnect = await run(new AgentPool());
    expect(viaGrpcJs.deltas).toEqual(["You", " said:", " hi", " there"]);
    expect(viaGrpcJs).toEqual(viaConnect);
  });

  it("makes unary calls, with response headers and interceptors", async () => {
    const seen: string[] = [];
    const interceptor: Interceptor = (next) => async (req) => {
      seen.push(req.method.name);
      req.header.set("x-bench", "1");
      return next(req);
    };
    const transport = createGrpcJsTransport({ baseUrl: agent.url, interceptors: [interceptor] });
    let header: Headers | undefined;
    const res = await createClient(AgentService, transport).describe({}, { onHeader: (h) => (header = h) });
    expect(res.card?.name).toBe("echo");
    expect(header?.get("content-type")).toMatch(/^application\/grpc/);
    expect(seen).toEqual(["Describe"]);
    transport.close();
  });

  it("fails an unknown method with UNIMPLEMENTED", async () => {
    const transport = createGrpcJsTransport({ baseUrl: agent.url });
    const err = await createClient(OrchestratorService, transport).getSession({ sessionId: "x" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unimplemented);
    transport.close();
  });

  it("fails an unreachable endpoint with UNAVAILABLE, marked retryable by the pool", async () => {
    const pool = new AgentPool(grpcJsTransport);
    pool.add("echo", `http://127.0.0.1:${await freePort()}`);
    const err = await pool.invoke({ agent: "echo", start: start("hi"), signal: new AbortController().signal, timeoutMs: 5000, onDelta: () => undefined }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    expect(ConnectError.from(err).rawMessage).toMatch(/is unavailable/);
  });

  it("ends a turn that runs past its budget with DEADLINE_EXCEEDED", async () => {
    const pool = new AgentPool(grpcJsTransport);
    pool.add("echo", agent.url);
    const err = await pool
      .invoke({ agent: "echo", start: start("slow", { "switchboard.conformance": "slow" }), signal: new AbortController().signal, timeoutMs: 200, onDelta: () => undefined })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.DeadlineExceeded);
  });

  it("cancels a running turn when the caller's signal aborts", async () => {
    const pool = new AgentPool(grpcJsTransport);
    pool.add("echo", agent.url);
    const abort = new AbortController();
    const err = await pool
      .invoke({
        agent: "echo",
        start: start("slow", { "switchboard.conformance": "slow" }),
        signal: abort.signal,
        timeoutMs: 10_000,
        // The first tick proves the turn is running: cancel then.
        onDelta: () => abort.abort(),
      })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Canceled);
  });

  it("refuses an endpoint that is not http:// or https://", () => {
    expect(() => createGrpcJsTransport({ baseUrl: "ftp://127.0.0.1:1" })).toThrow(/http:\/\/ or https:\/\//);
  });
});

/**
 * The orchestrator with `--agent-transport grpc-js`: a real process
 * calling a real agent process over grpc-js.
 */
describe("orchestrator with the grpc-js agent transport", () => {
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`, "--agent-transport", "grpc-js"]);
  });

  afterAll(async () => {
    await orchestrator?.stop();
    await agent?.stop();
  });

  it("runs turns end to end", async () => {
    const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    const first = await client.sendTurn({ sessionId: "gjs-1", input: { text: "hello" } });
    expect(first.output).toBe("Hello! I am the echo agent. You said: hello");
    const second = await client.sendTurn({ sessionId: "gjs-1", input: { text: "again" } });
    expect(second.output).toBe("You said: again");
    expect(second.session?.version).toBe(2n);
  });

  it("rejects an unknown transport name with a usage error", async () => {
    const proc = startSwitchboard(["serve", "--port", "0", "--agent-transport", "carrier-pigeon"]);
    expect(await proc.exited).toBe(2);
    expect(proc.lines.join("\n")).toMatch(/--agent-transport: "carrier-pigeon" is not one of stream, connect, grpc-js/);
  });
});
