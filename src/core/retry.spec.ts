import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { RetryPolicySchema } from "../gen/switchboard/v1/flow_pb.js";
import { AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import { markRetryable } from "./errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "./ports.js";
import { invokeWithRetry } from "./retry.js";

/** An invoker that fails its first calls as told, then answers. */
function flaky(failures: Array<{ error: ConnectError; output?: boolean }>) {
  const attempts: number[] = [];
  const invoker: AgentInvoker = {
    has: () => true,
    async invoke(call: AgentCall): Promise<AgentOutcome> {
      attempts.push(call.start.attempt);
      const f = failures.shift();
      if (f !== undefined) {
        if (f.output) call.onDelta({ $typeName: "switchboard.v1.OutputDelta", text: "partial", audio: new Uint8Array() });
        throw f.error;
      }
      return { result: create(AgentResultSchema, { text: "ok" }), instance: "i", attempts: 1, latencyMs: 1, breaker: "closed" };
    },
  };
  return { invoker, attempts };
}

const call = (): AgentCall => ({
  agent: "a",
  start: create(TurnStartSchema, { attempt: 1 }),
  signal: new AbortController().signal,
  timeoutMs: 10_000,
  onDelta: () => {},
});
const blip = () => markRetryable(new ConnectError("blip", Code.Unavailable));
const sleeps: number[] = [];
const sleep = async (ms: number) => {
  sleeps.push(ms);
};
let clock = 0;
const now = () => clock;

describe("invokeWithRetry", () => {
  it("retries retryable failures with growing backoff and counts the attempts", async () => {
    sleeps.length = 0;
    const { invoker, attempts } = flaky([{ error: blip() }, { error: blip() }]);
    const policy = create(RetryPolicySchema, { maxAttempts: 3, initialBackoff: { seconds: 0n, nanos: 100_000_000 } });
    const out = await invokeWithRetry(invoker, call(), policy, sleep, now, () => 1);
    expect(out.result.text).toBe("ok");
    expect(out.attempts).toBe(3);
    expect(attempts).toEqual([1, 2, 3]);
    expect(sleeps).toEqual([100, 200]);
  });

  it("gives up after max_attempts with the last error", async () => {
    const { invoker, attempts } = flaky([{ error: blip() }, { error: blip() }, { error: blip() }]);
    await expect(invokeWithRetry(invoker, call(), create(RetryPolicySchema, { maxAttempts: 2 }), sleep, now)).rejects.toThrow("blip");
    expect(attempts).toEqual([1, 2]);
  });

  it("does not retry an error not marked retryable, nor a call that produced output", async () => {
    const fatal = flaky([{ error: new ConnectError("bad input", Code.InvalidArgument) }]);
    await expect(invokeWithRetry(fatal.invoker, call(), create(RetryPolicySchema, { maxAttempts: 5 }), sleep, now)).rejects.toThrow("bad input");
    expect(fatal.attempts).toEqual([1]);
    const spoke = flaky([{ error: blip(), output: true }]);
    await expect(invokeWithRetry(spoke.invoker, call(), create(RetryPolicySchema, { maxAttempts: 5 }), sleep, now)).rejects.toThrow("blip");
    expect(spoke.attempts).toEqual([1]);
  });

  it("does not back off past the call's time budget", async () => {
    const { invoker, attempts } = flaky([{ error: blip() }]);
    const policy = create(RetryPolicySchema, { maxAttempts: 5, initialBackoff: { seconds: 20n, nanos: 0 }, maxBackoff: { seconds: 60n, nanos: 0 } });
    await expect(invokeWithRetry(invoker, call(), policy, sleep, now, () => 1)).rejects.toThrow("blip");
    expect(attempts).toEqual([1]);
  });
});
