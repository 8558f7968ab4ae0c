import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AgentCardSchema } from "../../src/gen/switchboard/v1/agent_pb.js";
import { instanceIdFor, type Registration, type RegistryStore } from "../../src/mesh/registry-store.js";

let counter = 0;

/**
 * registryStoreContract is the behaviour every RegistryStore must have.
 * Each implementation runs it; `setup` returns a store, which may share its
 * database with earlier tests (every test uses names of its own).
 */
export function registryStoreContract(name: string, setup: () => Promise<RegistryStore>) {
  const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  // A realistic epoch time, so that implementations store full-size numbers.
  const now = Date.UTC(2030, 0, 1, 12, 0, 0, 123);

  const registration = (agent: string, endpoint: string, expiresAt: number, extra: Partial<Registration> = {}): Registration => ({
    instanceId: instanceIdFor(agent, endpoint),
    card: create(AgentCardSchema, {
      name: agent,
      version: "1.2.3",
      description: "a test agent",
      intents: ["refund", "billing_question"],
      metadata: { team: "payments", locale: "de-CH" },
    }),
    endpoint,
    leaseMs: 30_000,
    expiresAt,
    registeredAt: now - 5,
    ...extra,
  });

  const mine = async (store: RegistryStore, agent: string, at = now) =>
    (await store.listLive(at, 10_000)).filter((r) => r.card.name === agent);

  describe(`RegistryStore contract: ${name}`, () => {
    it("stores a registration and reads it back whole", async () => {
      const store = await setup();
      const r = registration(unique("read"), "http://10.0.0.7:7001", now + 30_000);
      await store.put(r);
      expect(await store.get(r.instanceId, now)).toEqual(r);
    });

    it("treats a registration whose lease ran out as gone", async () => {
      const store = await setup();
      const r = registration(unique("expire"), "http://10.0.0.7:7001", now + 1000);
      await store.put(r);
      expect(await store.get(r.instanceId, now + 999)).toBeDefined();
      expect(await store.get(r.instanceId, now + 1000)).toBeUndefined();
      expect(await mine(store, r.card.name, now + 1000)).toEqual([]);
    });

    it("replaces a registration put again with the same instance id (upsert)", async () => {
      const store = await setup();
      const agent = unique("upsert");
      const first = registration(agent, "http://10.0.0.7:7001", now + 1000);
      await store.put(first);
      const again = registration(agent, "http://10.0.0.7:7001", now + 60_000, { leaseMs: 60_000, registeredAt: now });
      again.card.version = "2.0.0";
      await store.put(again);
      const live = await mine(store, agent, now + 2000);
      expect(live).toEqual([again]);
    });

    it("renews a live lease, but never revives one that ran out", async () => {
      const store = await setup();
      const r = registration(unique("renew"), "http://10.0.0.7:7001", now + 1000);
      await store.put(r);
      const renewed = await store.renew(r.instanceId, now + 31_000, now + 500);
      expect(renewed).toEqual({ ...r, expiresAt: now + 31_000 });
      expect((await store.get(r.instanceId, now + 30_000))?.expiresAt).toBe(now + 31_000);
      // Past its end, a renewal finds nothing and changes nothing.
      expect(await store.renew(r.instanceId, now + 90_000, now + 31_000)).toBeUndefined();
      expect(await store.get(r.instanceId, now + 31_000)).toBeUndefined();
      expect(await store.renew(instanceIdFor(unique("nobody"), "http://h:1"), now + 1000, now)).toBeUndefined();
    });

    it("removes a registration, once", async () => {
      const store = await setup();
      const r = registration(unique("remove"), "http://10.0.0.7:7001", now + 30_000);
      await store.put(r);
      expect(await store.remove(r.instanceId)).toBe(true);
      expect(await store.get(r.instanceId, now)).toBeUndefined();
      expect(await store.remove(r.instanceId)).toBe(false);
      expect(await store.renew(r.instanceId, now + 60_000, now)).toBeUndefined();
    });

    it("lists live registrations ordered by instance id, up to a limit", async () => {
      const store = await setup();
      const agent = unique("list");
      const regs = [1, 2, 3, 4].map((i) => registration(agent, `http://10.0.0.${i}:7001`, now + i * 1000));
      await Promise.all(regs.map((r) => store.put(r)));
      const live = await mine(store, agent, now + 1500);
      expect(live.map((r) => r.endpoint).sort()).toEqual(["http://10.0.0.2:7001", "http://10.0.0.3:7001", "http://10.0.0.4:7001"]);
      expect(live.map((r) => r.instanceId)).toEqual([...live.map((r) => r.instanceId)].sort());
      const all = await store.listLive(now, 10_000);
      expect(all.map((r) => r.instanceId)).toEqual([...all.map((r) => r.instanceId)].sort());
      expect(await store.listLive(now, 2)).toHaveLength(2);
    });

    it("sweeps only expired registrations, also when replicas sweep at once", async () => {
      const store = await setup();
      const agent = unique("sweep");
      const gone = [1, 2].map((i) => registration(agent, `http://10.0.1.${i}:7001`, now + 100));
      const kept = registration(agent, "http://10.0.1.9:7001", now + 60_000);
      await Promise.all([...gone, kept].map((r) => store.put(r)));
      const [a, b] = await Promise.all([store.sweep(now + 100), store.sweep(now + 100)]);
      expect(a + b).toBeGreaterThanOrEqual(2);
      for (const r of gone) expect(await store.renew(r.instanceId, now + 90_000, now)).toBeUndefined();
      expect(await mine(store, agent, now)).toEqual([kept]);
    });

    it("hands out copies: changing a returned registration changes nothing stored", async () => {
      const store = await setup();
      const r = registration(unique("copy"), "http://10.0.0.7:7001", now + 30_000);
      await store.put(r);
      r.card.intents.push("mutated");
      const got = await store.get(r.instanceId, now);
      got!.card.metadata["team"] = "changed";
      expect((await store.get(r.instanceId, now))?.card.intents).toEqual(["refund", "billing_question"]);
      expect((await store.get(r.instanceId, now))?.card.metadata["team"]).toBe("payments");
    });
  });
}
