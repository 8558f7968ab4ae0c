import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { excuseAsLate, InstanceBreaker, isInstanceFailure } from "./breaker.js";

const fail = (code: Code) => () => Promise.reject(new ConnectError("x", code));
const succeed = () => Promise.resolve("ok");

describe("InstanceBreaker", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("opens after the threshold of failures in a row and refuses calls during the cool-down", async () => {
    const b = new InstanceBreaker({ failureThreshold: 3, coolDownMs: 1000 });
    for (let i = 0; i < 2; i++) await b.execute(fail(Code.Unavailable)).catch(() => undefined);
    expect(b.state).toBe("closed");
    await b.execute(succeed); // a success resets the count
    for (let i = 0; i < 3; i++) await b.execute(fail(Code.Internal)).catch(() => undefined);
    expect(b.state).toBe("open");
    expect(b.permits()).toBeUndefined();
    expect(b.retryInMs()).toBe(1000);
    vi.advanceTimersByTime(999);
    expect(b.permits()).toBeUndefined();
  });

  it("lets one probe through after the cool-down; a successful probe closes it", async () => {
    const b = new InstanceBreaker({ failureThreshold: 1, coolDownMs: 1000 });
    await b.execute(fail(Code.DeadlineExceeded)).catch(() => undefined);
    vi.advanceTimersByTime(1000);
    expect(b.permits()).toBe("half_open");
    let finish: (v: string) => void = () => {};
    const probe = b.execute(() => new Promise<string>((resolve) => (finish = resolve)));
    expect(b.state).toBe("half_open");
    expect(b.permits()).toBeUndefined(); // one probe at a time
    finish("ok");
    await probe;
    expect(b.state).toBe("closed");
  });

  it("opens again when the probe fails", async () => {
    const b = new InstanceBreaker({ failureThreshold: 1, coolDownMs: 500 });
    await b.execute(fail(Code.Unavailable)).catch(() => undefined);
    vi.advanceTimersByTime(500);
    await b.execute(fail(Code.Unavailable)).catch(() => undefined);
    expect(b.state).toBe("open");
    expect(b.permits()).toBeUndefined();
  });

  it("does not count errors that say nothing about the instance", async () => {
    const b = new InstanceBreaker({ failureThreshold: 1, coolDownMs: 500 });
    for (const code of [Code.InvalidArgument, Code.FailedPrecondition, Code.Canceled, Code.NotFound]) {
      await b.execute(fail(code)).catch(() => undefined);
    }
    expect(b.state).toBe("closed");
  });
});

describe("isInstanceFailure", () => {
  it("counts unreachable, broken and slow instances", () => {
    for (const code of [Code.Unavailable, Code.Internal, Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented]) {
      expect(isInstanceFailure(new ConnectError("x", code))).toBe(true);
    }
    expect(isInstanceFailure(new ConnectError("x", Code.Canceled))).toBe(false);
    expect(isInstanceFailure(new Error("plain"))).toBe(false);
  });
});

describe("a failure excused as late", () => {
  it("still fails the call but counts against no instance", async () => {
    const b = new InstanceBreaker({ failureThreshold: 1, coolDownMs: 1000 });
    const late = new ConnectError("agent x did not finish within 100ms", Code.DeadlineExceeded);
    excuseAsLate(late);
    expect(isInstanceFailure(late)).toBe(false);
    await expect(b.execute(() => Promise.reject(late))).rejects.toBe(late);
    expect(b.state).toBe("closed");
    expect(isInstanceFailure(new ConnectError("agent x did not finish within 100ms", Code.DeadlineExceeded))).toBe(true);
  });
});
