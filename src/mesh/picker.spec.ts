import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { hasMark } from "../core/errors.js";
import type { Balancer } from "./balancer.js";
import { Bulkhead } from "./bulkhead.js";
import { type Gate, type Pickable, Picker, type PickerEntry, type PickResult } from "./picker.js";

const instance = (id: string): Pickable => ({ id, endpoint: `http://${id}`, inFlight: 0, cost: () => 0 });
const a = instance("a");
const b = instance("b");
const c = instance("c");

/** offered records the candidates a balancer was offered, and takes the first. */
function firstOf(offered: string[][]): Balancer {
  return {
    pick: (candidates) => {
      offered.push(candidates.map((x) => x.id));
      return candidates[0];
    },
  };
}

const gates: Gate[] = [{ bulkhead: new Bulkhead(1, 1), owner: "agent refund" }];
const admitted = { tried: new Set<string>(), admitted: true };
const triedAnd = (...ids: string[]) => ({ tried: new Set(ids), admitted: true });

function picker(entries: PickerEntry<Pickable>[], offered: string[][] = [], nextProbeAt = 0): Picker<Pickable> {
  return new Picker("refund", entries, firstOf(offered), gates, nextProbeAt);
}

const picked = (r: PickResult<Pickable>) => (r.type === "pick" ? [r.instance.id, r.breaker] : r.type);

describe("Picker", () => {
  it("names an agent with no live instance unroutable, before queueing the turn", () => {
    const r = picker([]).pick({ tried: new Set(), admitted: false }, 0);
    expect(r.type).toBe("unroutable");
    if (r.type !== "unroutable") return;
    expect(r.breaker).toBe("");
    expect(r.error.code).toBe(Code.Unavailable);
    expect(hasMark(r.error, "unroutable")).toBe(true);
    expect(r.error.rawMessage).toMatch(/^agent refund has no live instance/);
  });

  it("names an agent whose breakers all refuse calls unroutable, with the time to the next probe", () => {
    const p = picker(
      [
        { instance: a, permits: undefined, healthy: true },
        { instance: b, permits: undefined, healthy: false },
      ],
      [],
      10_000,
    );
    const r = p.pick(admitted, 7_500);
    expect(r.type).toBe("unroutable");
    if (r.type !== "unroutable") return;
    expect(r.breaker).toBe("open");
    expect(hasMark(r.error, "unroutable")).toBe(true);
    expect(r.error.rawMessage).toBe(
      "agent refund is unavailable: the circuit breakers of all its 2 instance(s) are open after repeated failures; the next probe is in 3s",
    );
  });

  it("queues a turn that holds no bulkhead slot yet, naming the gates to pass", () => {
    const p = picker([{ instance: a, permits: "closed", healthy: true }]);
    const r = p.pick({ tried: new Set(), admitted: false }, 0);
    expect(r).toEqual({ type: "queue", gates });
    expect(r.type === "queue" && r.gates).toBe(gates);
  });

  it("balances the healthy instances whose breakers are closed", () => {
    const offered: string[][] = [];
    const p = picker(
      [
        { instance: a, permits: "closed", healthy: false },
        { instance: b, permits: "closed", healthy: true },
        { instance: c, permits: undefined, healthy: true },
      ],
      offered,
    );
    expect(picked(p.pick(admitted, 0))).toEqual(["b", "closed"]);
    expect(offered).toEqual([["b"]]);
  });

  it("tries unhealthy instances rather than failing without trying", () => {
    const offered: string[][] = [];
    const p = picker(
      [
        { instance: a, permits: "closed", healthy: false },
        { instance: b, permits: "closed", healthy: false },
      ],
      offered,
    );
    expect(picked(p.pick(admitted, 0))).toEqual(["a", "closed"]);
    expect(offered).toEqual([["a", "b"]]);
  });

  it("sends the probe of a breaker whose cool-down is over first, when that instance is healthy", () => {
    const p = picker([
      { instance: a, permits: "closed", healthy: true },
      { instance: b, permits: "half_open", healthy: true },
    ]);
    expect(picked(p.pick(admitted, 0))).toEqual(["b", "half_open"]);
  });

  it("probes an unhealthy instance only when no breaker is closed", () => {
    const entries: PickerEntry<Pickable>[] = [
      { instance: a, permits: "closed", healthy: true },
      { instance: b, permits: "half_open", healthy: false },
    ];
    expect(picked(picker(entries).pick(admitted, 0))).toEqual(["a", "closed"]);
    expect(picked(picker(entries.slice(1)).pick(admitted, 0))).toEqual(["b", "half_open"]);
  });

  it("offers a retry the instances the turn has not tried, and all of them once it tried each", () => {
    const offered: string[][] = [];
    const p = picker(
      [
        { instance: a, permits: "closed", healthy: true },
        { instance: b, permits: "closed", healthy: true },
        { instance: c, permits: "closed", healthy: false },
      ],
      offered,
    );
    expect(picked(p.pick(triedAnd("a"), 0))).toEqual(["b", "closed"]);
    expect(picked(p.pick(triedAnd("a", "b"), 0))).toEqual(["c", "closed"]);
    expect(picked(p.pick(triedAnd("a", "b", "c"), 0))).toEqual(["a", "closed"]);
    expect(offered).toEqual([["b"], ["c"], ["a", "b"]]);
  });

  it("does not probe an instance the turn tried already", () => {
    const p = picker([{ instance: a, permits: "half_open", healthy: true }]);
    expect(picked(p.pick(admitted, 0))).toEqual(["a", "half_open"]);
    expect(p.pick(triedAnd("a"), 0).type).toBe("unroutable");
  });

  it("answers a first attempt's pick with a result built with the picker, allocating none", () => {
    const p = picker([
      { instance: a, permits: "closed", healthy: true },
      { instance: b, permits: "closed", healthy: true },
    ]);
    const first = p.pick(admitted, 0);
    expect(p.pick(admitted, 0)).toBe(first);
    expect(p.pick({ tried: new Set(), admitted: false }, 0)).toBe(p.pick({ tried: new Set(), admitted: false }, 0));
  });
});
