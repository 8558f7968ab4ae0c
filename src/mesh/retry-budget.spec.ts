import { describe, expect, it } from "vitest";
import { RetryBudget } from "./retry-budget.js";

describe("RetryBudget", () => {
  it("stops retries once failures drain half the bucket, and allows them again after successes", () => {
    const budget = new RetryBudget({ maxTokens: 10, tokenRatio: 0.5 });
    expect(budget.allowsRetry()).toBe(true);
    for (let i = 0; i < 4; i++) budget.onFailure();
    expect(budget.allowsRetry()).toBe(true); // 6 tokens left
    budget.onFailure();
    expect(budget.allowsRetry()).toBe(false); // 5: a storm is throttled
    for (let i = 0; i < 100; i++) budget.onFailure();
    budget.onSuccess();
    expect(budget.allowsRetry()).toBe(false);
    for (let i = 0; i < 11; i++) budget.onSuccess();
    expect(budget.allowsRetry()).toBe(true);
  });
});
