import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TurnStartSchema } from "../src/gen/switchboard/v1/agent_pb.js";
import { agentTransport } from "../src/mesh/agent-transport.js";
import type { TransportFactory } from "../src/mesh/connection-pool.js";
import { grpcJsAgentTransport } from "../src/mesh/grpc-js-transport.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry } from "../src/mesh/registry.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";

// More cancelled turns than the agent's HTTP/2 server lets a client reset
// streams in a burst (Node's nghttp2: 1000 per connection, refilled at 33 a
// second, then GOAWAY INTERNAL_ERROR for the whole connection).
const turns = 2000;
const concurrency = 16;

/**
 * Barge-ins cancel agent calls all day on a voice line. A cancelled call
 * tells the agent in its stream (CancelTurn) and the agent ends it; were
 * each one reset instead, the agent's server would take the resets for an
 * attack and drop the connection, failing every turn on it.
 */
describe("cancelled turns", () => {
  let cancels = 0;
  let slow: RunningAgent;

  beforeAll(async () => {
    slow = await serveAgent({
      card: { name: "slow", version: "1.0.0", description: "Says one word, then works until cancelled.", intents: ["chat"] },
      async *handler(turn) {
        yield "working ";
        await new Promise<void>((resolve) => turn.signal.addEventListener("abort", () => resolve(), { once: true }));
        cancels++;
      },
    });
  });

  afterAll(async () => {
    await slow?.close();
  });

  const stacks: Array<[string, () => TransportFactory]> = [
    ["stream", () => agentTransport()],
    ["grpc-js", () => grpcJsAgentTransport()],
  ];
  it.each(stacks)("each end CANCELED, told to the agent, and the connection stays up for the others (%s transport)", async (_, transport) => {
    cancels = 0;
    const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "slow", endpoint: slow.url }] });
    await registry.start();
    const mesh = new Mesh(registry, { transport: transport() });
    const counts: Record<string, number> = {};
    try {
      let next = 0;
      const worker = async () => {
        while (next < turns) {
          const i = next++;
          const start = create(TurnStartSchema, { sessionId: `s${i}`, turnId: "t1", stage: "conversation", input: { text: "hi" } });
          // The user barges in as soon as the agent starts speaking.
          const bargeIn = new AbortController();
          const onDelta = () => bargeIn.abort(new ConnectError("the user barged in", Code.Canceled));
          const outcome = await mesh.invoke({ agent: "slow", start, signal: bargeIn.signal, timeoutMs: 30_000, onDelta }).then(
            () => "ok",
            (e: unknown) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`,
          );
          counts[outcome] = (counts[outcome] ?? 0) + 1;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      mesh.close();
      registry.stop();
    }
    expect(counts).toEqual({ [`Canceled: the turn was cancelled while agent slow at ${slow.url} was working`]: turns });
    // Every agent handler saw its turn cancelled (some after the check's
    // last turn: wait for the stragglers).
    await expect.poll(() => cancels, { timeout: 10_000 }).toBe(turns);
  });
});
