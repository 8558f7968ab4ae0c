import { ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type PingableSession, SessionKeepalive } from "./keepalive.js";
import type { LoopDelay } from "./loop-delay.js";

const opts = { intervalMs: 1000, timeoutMs: 500 };

/** FakeSession records PINGs and lets the spec answer them. */
class FakeSession implements PingableSession {
  destroyed = false;
  destroyedWith: Error | undefined;
  pings: Array<(err: Error | null) => void> = [];
  ping(callback: (err: Error | null) => void): boolean {
    this.pings.push(callback);
    return true;
  }
  destroy(error?: Error): void {
    this.destroyed = true;
    this.destroyedWith = error;
  }
  answer(): void {
    this.pings.shift()?.(null);
  }
}

/** loop is a LoopDelay the spec stalls at will. */
function loop() {
  let stalled = false;
  const l: LoopDelay & { stall(on: boolean): void } = {
    stalledSince: () => stalled,
    delayMs: () => (stalled ? 5000 : 0),
    stall: (on) => void (stalled = on),
  };
  return l;
}

describe("SessionKeepalive", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const keepalive = (s: FakeSession, l: LoopDelay) => new SessionKeepalive(s, opts, l, () => Date.now());

  it("pings a quiet connection with streams, and not an idle one", async () => {
    const s = new FakeSession();
    const k = keepalive(s, loop());
    k.streamOpened();
    await vi.advanceTimersByTimeAsync(999);
    expect(s.pings).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.pings).toHaveLength(1);
    s.answer();
    // Data read counts as alive: no ping until a full quiet interval.
    await vi.advanceTimersByTimeAsync(900);
    k.alive();
    await vi.advanceTimersByTimeAsync(900);
    expect(s.pings).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(s.pings).toHaveLength(1);
    s.answer();
    k.streamClosed();
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.pings).toHaveLength(0);
    expect(s.destroyed).toBe(false);
    // A stream on a connection quiet for longer than the interval pings at once.
    k.streamOpened();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.pings).toHaveLength(1);
  });

  it("gives the connection up when a PING goes unanswered with the loop healthy", async () => {
    const s = new FakeSession();
    const k = keepalive(s, loop());
    k.streamOpened();
    await vi.advanceTimersByTimeAsync(1000 + 499);
    expect(s.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.destroyed).toBe(true);
    expect(ConnectError.from(s.destroyedWith).rawMessage).toBe("PING timed out");
  });

  it("does not blame the agent for a timeout that fired while this process's loop stalled", async () => {
    const s = new FakeSession();
    const l = loop();
    const k = keepalive(s, l);
    k.streamOpened();
    await vi.advanceTimersByTimeAsync(1000);
    l.stall(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(s.destroyed).toBe(false);
    // The loop runs again and reads the answer that was waiting.
    l.stall(false);
    s.answer();
    await vi.advanceTimersByTimeAsync(500);
    expect(s.destroyed).toBe(false);
    // Pings go on, and a later timeout with the loop healthy still counts.
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.pings).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(s.destroyed).toBe(true);
  });

  it("after an excused timeout, waits one more timeout for the answer, judged afresh", async () => {
    const s = new FakeSession();
    const l = loop();
    const k = keepalive(s, l);
    k.streamOpened();
    await vi.advanceTimersByTimeAsync(1000);
    l.stall(true);
    await vi.advanceTimersByTimeAsync(500);
    l.stall(false);
    await vi.advanceTimersByTimeAsync(499);
    expect(s.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.destroyed).toBe(true);
  });

  it("verifies a stale idle connection: ping resolves with whether it answered", async () => {
    const s = new FakeSession();
    const k = keepalive(s, loop());
    expect(k.stale).toBe(false);
    await vi.advanceTimersByTimeAsync(1001);
    expect(k.stale).toBe(true);
    const answered = k.ping();
    const joined = k.ping();
    expect(s.pings).toHaveLength(1);
    s.answer();
    expect(await answered).toBe(true);
    expect(await joined).toBe(true);
    expect(k.stale).toBe(false);
    await vi.advanceTimersByTimeAsync(1001);
    const lost = k.ping();
    await vi.advanceTimersByTimeAsync(500);
    expect(await lost).toBe(false);
    expect(s.destroyed).toBe(true);
  });
});
