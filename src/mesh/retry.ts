import { durationMs } from "@bufbuild/protobuf/wkt";
import type { RetryPolicy } from "../gen/switchboard/v1/flow_pb.js";

/**
 * RetrySettings say how often and how fast a failed agent call is retried.
 * Only calls that failed before the agent produced any output, with a
 * connection failure or UNAVAILABLE, are retried (see the "retryable" mark in
 * core/errors.ts); each retry prefers an instance not tried yet.
 */
export interface RetrySettings {
  /** The most attempts, the first included. */
  maxAttempts: number;
  /** The first backoff; it doubles with each retry, with full jitter. */
  initialBackoffMs: number;
  /** The longest backoff. */
  maxBackoffMs: number;
}

/**
 * defaultRetrySettings match the defaults documented on switchboard.v1.RetryPolicy.
 */
export const defaultRetrySettings: RetrySettings = { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 1000 };

/**
 * maxAttemptsLimit bounds the attempts of one call whatever a flow asks for.
 */
export const maxAttemptsLimit = 5;

/**
 * retrySettings merges a stage's RetryPolicy over the defaults; unset
 * fields keep the default and attempts are capped at `maxAttemptsLimit`.
 */
export function retrySettings(policy: RetryPolicy | undefined, defaults: RetrySettings = defaultRetrySettings): RetrySettings {
  const maxAttempts = policy !== undefined && policy.maxAttempts > 0 ? policy.maxAttempts : defaults.maxAttempts;
  return {
    maxAttempts: Math.min(maxAttemptsLimit, Math.max(1, maxAttempts)),
    initialBackoffMs: policy?.initialBackoff !== undefined ? durationMs(policy.initialBackoff) : defaults.initialBackoffMs,
    maxBackoffMs: policy?.maxBackoff !== undefined ? durationMs(policy.maxBackoff) : defaults.maxBackoffMs,
  };
}

/**
 * backoffMs is the wait before retry number `retry` (1 for the first retry):
 * exponential growth capped at maxBackoffMs, with full jitter (a uniform
 * draw below the cap) so that callers failing together do not retry together.
 */
export function backoffMs(retry: number, s: RetrySettings, random: () => number = Math.random): number {
  const cap = Math.min(s.maxBackoffMs, s.initialBackoffMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}
