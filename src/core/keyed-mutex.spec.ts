import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { KeyedMutex } from "./keyed-mutex.js";

/** gate is a promise the test resolves when it wants to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("KeyedMutex", () => {
  it("runs tasks of one key one at a time, in arrival order, and tasks of other keys at once", async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const first = gate();
    const a1 = mutex.run("a", async () => {
      order.push("a1 start");
      await first.opened;
      order.push("a1 end");
    });
    const a2 = mutex.run("a", async () => void order.push("a2"));
    await mutex.run("b", async () => void order.push("b"));
    first.open();
    await Promise.all([a1, a2]);
    expect(order).toEqual(["a1 start", "b", "a1 end", "a2"]);
  });

  it("lets a waiter whose deadline passes leave at once, without running it, and the rest go on in order", async () => {
    const mutex = new KeyedMutex();
    const held = gate();
    const ran: string[] = [];
    const holder = mutex.run("s", () => held.opened);
    const late = mutex.run("s", async () => void ran.push("late"), { deadline: Date.now() + 20 });
    const patient = mutex.run("s", async () => void ran.push("patient"));
    const err = await late.catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.DeadlineExceeded });
    expect(ran).toEqual([]);
    held.open();
    await Promise.all([holder, patient]);
    expect(ran).toEqual(["patient"]);
    // Nothing is left behind: the key starts afresh.
    expect(await mutex.run("s", async () => "again")).toBe("again");
  });

  it("refuses a wait whose deadline passed already, and leaves when the caller gives up", async () => {
    const mutex = new KeyedMutex();
    const held = gate();
    const holder = mutex.run("s", () => held.opened);
    const past = await mutex.run("s", async () => "ran", { deadline: Date.now() - 1 }).catch((e: unknown) => ConnectError.from(e));
    expect(past).toMatchObject({ code: Code.DeadlineExceeded });
    const controller = new AbortController();
    const waiting = mutex.run("s", async () => "ran", { signal: controller.signal });
    controller.abort();
    expect(await waiting.catch((e: unknown) => ConnectError.from(e))).toMatchObject({ code: Code.Canceled });
    const timedOut = new AbortController();
    const byServer = mutex.run("s", async () => "ran", { signal: timedOut.signal });
    timedOut.abort(new ConnectError("deadline", Code.DeadlineExceeded));
    expect(await byServer.catch((e: unknown) => ConnectError.from(e))).toMatchObject({ code: Code.DeadlineExceeded });
    held.open();
    await holder;
  });

  it("releases the key when a task throws", async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run("s", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await mutex.run("s", async () => "next")).toBe("next");
  });
});
