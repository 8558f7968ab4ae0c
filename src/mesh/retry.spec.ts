import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { RetryPolicySchema } from "../gen/switchboard/v1/flow_pb.js";
import { backoffMs, defaultRetrySettings, maxAttemptsLimit, retrySettings } from "./retry.js";

describe("retrySettings", () => {
  it("uses the defaults for what a stage leaves unset", () => {
    expect(retrySettings(undefined)).toEqual(defaultRetrySettings);
    expect(retrySettings(create(RetryPolicySchema, { maxAttempts: 3 }))).toEqual({ ...defaultRetrySettings, maxAttempts: 3 });
    expect(
      retrySettings(create(RetryPolicySchema, { initialBackoff: durationFromMs(10), maxBackoff: durationFromMs(80) })),
    ).toEqual({ maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 80 });
  });

  it("caps the attempts whatever a flow asks for", () => {
    expect(retrySettings(create(RetryPolicySchema, { maxAttempts: 1000 })).maxAttempts).toBe(maxAttemptsLimit);
  });
});

describe("backoffMs", () => {
  const s = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 300 };
  it("doubles its cap with each retry up to the maximum", () => {
    const almostOne = () => 0.999999;
    expect([1, 2, 3, 4].map((r) => backoffMs(r, s, almostOne))).toEqual([99, 199, 299, 299]);
  });
  it("draws the wait uniformly below the cap (full jitter)", () => {
    expect(backoffMs(2, s, () => 0)).toBe(0);
    expect(backoffMs(2, s, () => 0.5)).toBe(100);
  });
});
