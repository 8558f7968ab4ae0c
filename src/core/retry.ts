import { clone } from "@bufbuild/protobuf";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { RetryPolicy } from "../gen/switchboard/v1/flow_pb.js";
import { isRetryable } from "./errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "./ports.js";

/**
 * Sleep waits for a time, or rejects when the signal aborts. The engine's
 * only timer besides the invoker's deadlines, injectable for tests.
 */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/**
 * timerSleep is the Sleep of a running server.
 */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/**
 * retryDefaults fill the fields a stage's RetryPolicy leaves unset.
 */
export const retryDefaults = { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 1000 };

/**
 * maxRetryAttempts bounds `max_attempts` whatever a flow says.
 */
export const maxRetryAttempts = 10;

/**
 * invokeWithRetry calls an agent under a stage's retry policy: a call that
 * failed with an error marked retryable, before the agent produced any
 * output, is tried again after an exponential backoff with jitter, while
 * attempts and the call's time budget last. Other errors end it at once.
 */
export async function invokeWithRetry(
  invoker: AgentInvoker,
  call: AgentCall,
  policy: RetryPolicy,
  sleep: Sleep,
  now: () => number,
  random: () => number = Math.random,
): Promise<AgentOutcome> {
  const maxAttempts = Math.min(policy.maxAttempts || retryDefaults.maxAttempts, maxRetryAttempts);
  const initial = policy.initialBackoff ? durationMs(policy.initialBackoff) : retryDefaults.initialBackoffMs;
  const cap = policy.maxBackoff ? durationMs(policy.maxBackoff) : retryDefaults.maxBackoffMs;
  const deadline = now() + call.timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    let produced = false;
    const remaining = deadline - now();
    try {
      const outcome = await invoker.invoke({
        ...call,
        timeoutMs: Math.max(1, remaining),
        start: attempts === 1 ? call.start : { ...clone(TurnStartSchema, call.start), attempt: attempts },
        onDelta: (delta) => {
          produced = true;
          call.onDelta(delta);
        },
      });
      return { ...outcome, attempts: attempts - 1 + outcome.attempts };
    } catch (e) {
      const backoff = Math.min(cap, initial * 2 ** (attempts - 1)) * (0.5 + random() / 2);
      const retry = isRetryable(e) && !produced && attempts < maxAttempts && !call.signal.aborted && now() + backoff < deadline;
      if (!retry) throw e;
      await sleep(backoff, call.signal);
    }
  }
}

function durationMs(d: { seconds: bigint; nanos: number }): number {
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}
