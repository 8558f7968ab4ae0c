import { describe, expect, it } from "vitest";
import { Bulkhead, BulkheadError } from "./bulkhead.js";

const never = new AbortController().signal;

describe("Bulkhead", () => {
  it("runs up to its limit, queues up to its queue and refuses the rest at once", async () => {
    const b = new Bulkhead(2, 1);
    const r1 = await b.acquire(never);
    const r2 = await b.acquire(never);
    const waiting = b.acquire(never);
    expect([b.running, b.queued]).toEqual([2, 1]);
    const refused = await b.acquire(never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BulkheadError);
    expect((refused as BulkheadError).reason).toBe("full");
    r1();
    const r3 = await waiting;
    expect([b.running, b.queued]).toEqual([2, 0]);
    r2();
    r3();
    expect(b.running).toBe(0);
  });

  it("hands slots to waiters in arrival order", async () => {
    const b = new Bulkhead(1, 3);
    const first = await b.acquire(never);
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) => b.acquire(never).then((release) => (order.push(i), release)));
    first();
    for (const w of waits) (await w)();
    expect(order).toEqual([1, 2, 3]);
  });

  it("drops a waiter whose signal aborts, without losing the slot for the next one", async () => {
    const b = new Bulkhead(1, 2);
    const held = await b.acquire(never);
    const gaveUp = new AbortController();
    const abandoned = b.acquire(gaveUp.signal).catch((e: unknown) => e);
    const patient = b.acquire(never);
    gaveUp.abort();
    expect(((await abandoned) as BulkheadError).reason).toBe("aborted");
    expect(b.queued).toBe(1);
    held();
    const release = await patient;
    expect(b.running).toBe(1);
    release();
    release(); // a second release is a no-op
    expect(b.running).toBe(0);
  });
});
