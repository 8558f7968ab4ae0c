import { describe, expect, it } from "vitest";
import { AsyncQueue } from "./async-queue.js";

async function drain<T>(q: AsyncIterable<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of q) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

describe("AsyncQueue", () => {
  it("hands a waiting reader each item as it is pushed, in order, and ends after end", async () => {
    const q = new AsyncQueue<string>();
    const reading = drain(q);
    q.push("a");
    await Promise.resolve();
    q.push("b");
    q.end();
    q.push("dropped");
    expect(await reading).toEqual({ items: ["a", "b"] });
    expect(q.closed).toBe(true);
  });

  it("counts what it holds in the sizes given, is full past its limit, and has space again once read", async () => {
    const q = new AsyncQueue<number>(10);
    q.push(1, 6);
    expect(q.full).toBe(false);
    q.push(2, 6);
    expect(q.held).toBe(12);
    expect(q.full).toBe(true);
    let space = false;
    const waiting = q.whenSpace().then(() => (space = true));
    await Promise.resolve();
    expect(space).toBe(false);
    const it = q[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(1);
    await waiting;
    expect(space).toBe(true);
    expect(q.held).toBe(6);
  });

  it("counts one per item by default", () => {
    const q = new AsyncQueue<string>(1);
    q.push("a");
    expect(q.full).toBe(false);
    q.push("b");
    expect(q.full).toBe(true);
  });

  it("delivers what it holds before the error it was ended with", async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.end(new Error("gone"));
    q.end(new Error("second end ignored"));
    const { items, error } = await drain(q);
    expect(items).toEqual([1]);
    expect((error as Error).message).toBe("gone");
  });

  it("fail drops what it holds, even after end, and frees a waiting producer", async () => {
    const q = new AsyncQueue<number>(1);
    q.push(1, 5);
    const space = q.whenSpace();
    q.end();
    q.fail(new Error("too slow"));
    await space;
    expect(q.held).toBe(0);
    const { items, error } = await drain(q);
    expect(items).toEqual([]);
    expect((error as Error).message).toBe("too slow");
  });

  it("whenSpace resolves at once when not full or closed", async () => {
    const q = new AsyncQueue<number>(0);
    await q.whenSpace();
    q.push(1);
    q.end();
    await q.whenSpace();
  });

  it("keeps order across many items read while more are pushed", async () => {
    const q = new AsyncQueue<number>();
    const reading = drain(q);
    for (let i = 0; i < 500; i++) {
      q.push(i);
      if (i % 7 === 0) await Promise.resolve();
    }
    q.end();
    expect((await reading).items).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it("ends a reader's waiting next when the reader gives up, and every next after it", async () => {
    const q = new AsyncQueue<string>();
    const waiting = q.next();
    await expect(q.return()).resolves.toEqual({ done: true, value: undefined });
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    q.push("late");
    await expect(q.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it("gives its error to the reader once, then the end", async () => {
    const q = new AsyncQueue<string>();
    const waiting = q.next();
    q.fail(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    await expect(q.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it("ends as an async generator does when its reader throws into it", async () => {
    const q = new AsyncQueue<string>();
    const waiting = q.next();
    await expect(q.throw(new Error("reader failed"))).rejects.toThrow("reader failed");
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    await expect(q.next()).resolves.toEqual({ done: true, value: undefined });
  });
});
