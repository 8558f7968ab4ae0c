import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AgentCardSchema } from "../gen/switchboard/v1/agent_pb.js";
import { MemoryRegistryStore } from "../store/memory-registry-store.js";
import { Registry, type RegistryOptions } from "./registry.js";

const card = (name: string) => create(AgentCardSchema, { name, version: "1" });

function setup(extra: Partial<RegistryOptions> = {}, store = new MemoryRegistryStore()) {
  const clock = { t: 1_000_000 };
  const registry = new Registry({ store, now: () => clock.t, defaultLeaseMs: 10_000, ...extra });
  return { registry, clock, store };
}

const codeOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e).code);

describe("Registry", () => {
  it("routes to an instance from registration until its lease runs out, and renews it on heartbeat", async () => {
    const { registry, clock } = setup();
    const r = await registry.register(card("billing"), "http://10.0.0.7:7001", 0);
    expect(r.leaseMs).toBe(10_000);
    expect(registry.instances("billing").map((i) => i.endpoint)).toEqual(["http://10.0.0.7:7001"]);
    clock.t += 9_000;
    await registry.heartbeat(r.instanceId);
    clock.t += 9_000;
    expect(registry.has("billing")).toBe(true);
    clock.t += 1_000;
    expect(registry.has("billing")).toBe(false); // expired exactly at the lease's end
    expect(await codeOf(registry.heartbeat(r.instanceId))).toBe(Code.NotFound);
    const again = await registry.register(card("billing"), "http://10.0.0.7:7001", 0);
    expect(again.instanceId).toBe(r.instanceId); // the same instance comes back
    expect(registry.has("billing")).toBe(true);
  });

  it("removes an instance on deregistration and answers NOT_FOUND for an unknown one", async () => {
    const { registry } = setup();
    const r = await registry.register(card("a"), "http://h:1", 0);
    await registry.deregister(r.instanceId);
    expect(registry.instances()).toEqual([]);
    expect(await codeOf(registry.deregister(r.instanceId))).toBe(Code.NotFound);
  });

  it("clamps the lease to its bounds", () => {
    const { registry } = setup({ minLeaseMs: 1000, maxLeaseMs: 60_000 });
    expect([registry.grantLease(0), registry.grantLease(10), registry.grantLease(5000), registry.grantLease(1e9)]).toEqual([
      10_000, 1000, 5000, 60_000,
    ]);
  });

  it("lists static instances, which have no lease to renew or end", async () => {
    const { registry } = setup({ statics: [{ name: "echo", endpoint: "http://127.0.0.1:7001", card: { version: "2" } }] });
    const [echo] = registry.instances("echo");
    expect(echo).toMatchObject({ source: "static", expiresAt: undefined });
    expect(echo?.card.version).toBe("2");
    expect(await codeOf(registry.heartbeat(echo!.id))).toBe(Code.FailedPrecondition);
    expect(await codeOf(registry.deregister(echo!.id))).toBe(Code.FailedPrecondition);
  });

  it("refuses registrations beyond its limit", async () => {
    const { registry } = setup({ maxInstances: 2 });
    await registry.register(card("a"), "http://h:1", 0);
    await registry.register(card("a"), "http://h:2", 0);
    expect(await codeOf(registry.register(card("a"), "http://h:3", 0))).toBe(Code.ResourceExhausted);
    await registry.register(card("a"), "http://h:2", 0); // renewing an existing one is fine
  });

  it("shows registrations made through another replica after a refresh (bounded staleness)", async () => {
    const store = new MemoryRegistryStore();
    const one = setup({}, store);
    const two = setup({}, store);
    two.clock.t = one.clock.t;
    const changes: number[] = [];
    two.registry.onChange(() => changes.push(two.registry.instances().length));
    const r = await one.registry.register(card("billing"), "http://10.0.0.7:7001", 0);
    expect(two.registry.has("billing")).toBe(false); // not yet: replica two reads the store every refreshMs
    await two.registry.refresh();
    expect(two.registry.has("billing")).toBe(true);
    // A heartbeat through replica two renews the lease replica one granted.
    two.clock.t += 9_000;
    one.clock.t += 9_000;
    await two.registry.heartbeat(r.instanceId);
    await one.registry.deregister(r.instanceId);
    await two.registry.refresh();
    expect(two.registry.has("billing")).toBe(false);
    expect(changes).toEqual([1, 0]);
  });

  it("sweeps expired registrations out of the store", async () => {
    const { registry, clock, store } = setup();
    await registry.register(card("a"), "http://h:1", 0);
    clock.t += 10_000;
    expect(await store.sweep(clock.t)).toBe(1);
  });
});
