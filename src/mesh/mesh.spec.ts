import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AgentCardSchema, AgentService, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { hasMark } from "../core/errors.js";
import type { AgentCall } from "../core/ports.js";
import { MemoryRegistryStore } from "../store/memory-registry-store.js";
import { Mesh } from "./mesh.js";
import { Registry } from "./registry.js";

/**
 * The mesh publishes a new picker when its routing state changes by itself,
 * with no event: a lease runs out, a breaker's cool-down ends. The agent
 * answers in memory, with no socket.
 */
function inMemoryAgent(reply: () => string | ConnectError) {
  const transport = createRouterTransport(({ service }) => {
    service(AgentService, {
      async *handleTurn(requests) {
        for await (const r of requests) {
          if (r.kind.case !== "start") continue;
          const out = reply();
          if (out instanceof ConnectError) throw out;
          yield { kind: { case: "result", value: { text: out } } };
          return;
        }
      },
      describe: () => ({}),
    });
  });
  return () => ({ transport, close: () => undefined });
}

const call = (agent: string): AgentCall => ({
  agent,
  start: create(TurnStartSchema, {}),
  signal: new AbortController().signal,
  timeoutMs: 5_000,
  onDelta: () => undefined,
});

const failure = (p: Promise<unknown>) => p.then(() => expect.fail("the call succeeded"), (e: unknown) => e as ConnectError);

describe("Mesh", () => {
  afterEach(() => vi.useRealTimers());

  it("stops routing to an instance the moment its lease runs out by the registry's clock", async () => {
    const clock = { t: 1_000_000 };
    const registry = new Registry({ store: new MemoryRegistryStore(), now: () => clock.t });
    await registry.register(create(AgentCardSchema, { name: "refund" }), "http://refund:1", 1_000);
    const mesh = new Mesh(registry, { transport: inMemoryAgent(() => "done") });
    try {
      expect((await mesh.invoke(call("refund"))).instance).toBe("http://refund:1");
      clock.t += 999;
      expect((await mesh.invoke(call("refund"))).instance).toBe("http://refund:1");
      clock.t += 1;
      const err = await failure(mesh.invoke(call("refund")));
      expect(hasMark(err, "unroutable")).toBe(true);
      expect(err.rawMessage).toMatch(/^agent refund has no live instance/);
    } finally {
      mesh.close();
    }
  });

  it("lets the probe through once an open breaker's cool-down is over", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "refund", endpoint: "http://refund:1" }] });
    let down = true;
    const mesh = new Mesh(registry, {
      breaker: { failureThreshold: 1, coolDownMs: 1_000 },
      transport: inMemoryAgent(() => (down ? new ConnectError("database down", Code.Internal) : "done")),
    });
    try {
      expect((await failure(mesh.invoke(call("refund")))).code).toBe(Code.Internal);
      const refused = await failure(mesh.invoke(call("refund")));
      expect(hasMark(refused, "unroutable")).toBe(true);
      expect(refused.rawMessage).toMatch(/the next probe is in 1s$/);
      down = false;
      vi.setSystemTime(Date.now() + 999);
      expect(hasMark(await failure(mesh.invoke(call("refund"))), "unroutable")).toBe(true);
      vi.setSystemTime(Date.now() + 1);
      expect((await mesh.invoke(call("refund"))).breaker).toBe("half_open");
      expect((await mesh.invoke(call("refund"))).breaker).toBe("closed");
    } finally {
      mesh.close();
    }
  });
});
