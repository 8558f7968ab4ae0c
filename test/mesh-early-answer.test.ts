import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { AgentService, type HandleTurnRequest, HandleTurnRequestSchema, TurnStartSchema } from "../src/gen/switchboard/v1/agent_pb.js";
import { agentTransport } from "../src/mesh/agent-transport.js";
import type { TransportFactory } from "../src/mesh/connection-pool.js";
import { grpcJsAgentTransport } from "../src/mesh/grpc-js-transport.js";
import { createGrpcStreamTransport } from "../src/mesh/grpc-stream-transport.js";
import { defaultKeepaliveOptions, KeepaliveSessionManager } from "../src/mesh/keepalive.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry } from "../src/mesh/registry.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";

// More calls than the agent's HTTP/2 server lets a client reset in a burst:
// Node's nghttp2 (1.57 and later, the HTTP/2 "rapid reset" guard) allows
// 1000 RST_STREAMs, refilled at 33 a second, then sends GOAWAY
// INTERNAL_ERROR, which fails every call on the connection.
const calls = 2000;
const concurrency = 16;

/** tally counts an outcome: "ok", or the error's "CODE: message". */
function tally(counts: Record<string, number>, e?: unknown): void {
  const err = e === undefined ? undefined : ConnectError.from(e);
  const outcome = err === undefined ? "ok" : `${Code[err.code]}: ${err.rawMessage}`;
  counts[outcome] = (counts[outcome] ?? 0) + 1;
}

/** concurrently runs `run(i)` for i below `calls`, `concurrency` at a time. */
async function concurrently(run: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < calls) await run(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * outcomes runs `calls` HandleTurn calls, `concurrency` at a time, on one
 * connection to `url`. Each call ends its request side only after the
 * agent's side has ended, as the orchestrator does when an agent fails a
 * turn early. It counts the calls by outcome: "ok" or "CODE: message".
 */
async function outcomes(url: string): Promise<Record<string, number>> {
  const sessionManager = new KeepaliveSessionManager(url, defaultKeepaliveOptions, undefined);
  const client = createClient(AgentService, createGrpcStreamTransport({ baseUrl: url, sessionManager }));
  const counts: Record<string, number> = {};
  const run = async (i: number) => {
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    const requests = async function* (): AsyncGenerator<HandleTurnRequest> {
      yield create(HandleTurnRequestSchema, { kind: { case: "start", value: { sessionId: `s${i}`, turnId: "t1", stage: "conversation", input: { text: "hi" } } } });
      await ended;
    };
    try {
      for await (const _ of client.handleTurn(requests(), { timeoutMs: 30_000 })) {
        // Read to the end of the stream.
      }
      tally(counts);
    } catch (e) {
      tally(counts, e);
    } finally {
      done();
    }
  };
  try {
    await concurrently(run);
  } finally {
    sessionManager.abort();
  }
  return counts;
}

/**
 * An agent that answers a turn before the orchestrator ended its side of
 * the call (it fails the turn on the first message, or gives its result)
 * ends the call with its status; the orchestrator's side then ends its
 * request cleanly. Were it to reset each such call, the agent's HTTP/2
 * server would count the resets as an attack and close the connection
 * with INTERNAL_ERROR, failing every other call on it with UNAVAILABLE.
 */
describe("calls an agent answers before the orchestrator ends its side", () => {
  let failing: RunningAgent;
  let echo: RunningAgent;

  beforeAll(async () => {
    failing = await serveAgent({
      card: { name: "failing", version: "1.0.0", description: "Fails every turn.", intents: ["chat"] },
      // It fails before any output.
      async *handler() {
        throw new ConnectError("the knowledge base is being rebuilt", Code.FailedPrecondition);
      },
    });
    echo = await serveAgent({ ...echoAgent });
  });

  afterAll(async () => {
    await failing?.close();
    await echo?.close();
  });

  it("each get the agent's own error, and the connection stays up for the others", async () => {
    expect(await outcomes(failing.url)).toEqual({ "FailedPrecondition: the knowledge base is being rebuilt": calls });
  });

  it("each get the agent's result, and the connection stays up for the others", async () => {
    expect(await outcomes(echo.url)).toEqual({ ok: calls });
  });

  const stacks: Array<[string, () => TransportFactory]> = [
    ["stream", () => agentTransport()],
    ["connect", () => agentTransport({ stack: "connect" })],
    ["grpc-js", () => grpcJsAgentTransport()],
  ];
  it.each(stacks)("through the mesh (%s transport), fail each turn with the agent's own error, not the connection's", async (_, transport) => {
    const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "failing", endpoint: failing.url }] });
    await registry.start();
    const mesh = new Mesh(registry, { transport: transport() });
    const counts: Record<string, number> = {};
    try {
      await concurrently(async (i) => {
        const start = create(TurnStartSchema, { sessionId: `s${i}`, turnId: "t1", stage: "conversation", input: { text: "hi" } });
        await mesh.invoke({ agent: "failing", start, signal: new AbortController().signal, timeoutMs: 30_000, onDelta: () => undefined }).then(
          () => tally(counts),
          (e: unknown) => tally(counts, e),
        );
      });
    } finally {
      mesh.close();
      registry.stop();
    }
    expect(counts).toEqual({ [`FailedPrecondition: agent failing at ${failing.url} failed: the knowledge base is being rebuilt`]: calls });
  });
});
