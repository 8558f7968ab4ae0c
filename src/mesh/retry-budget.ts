/**
 * RetryBudgetOptions configure a RetryBudget.
 */
export interface RetryBudgetOptions {
  /** The bucket's size. Default 10. */
  maxTokens: number;
  /** Tokens a successful call returns. Default 0.1. */
  tokenRatio: number;
}

/**
 * RetryBudget stops retry storms: a token bucket as in gRPC's retry
 * throttling. Each failed call takes a token, each successful call returns
 * `tokenRatio` of one, and retries are allowed only while the bucket is more
 * than half full. When an agent fails most calls, retries stop and the
 * failures surface at once instead of multiplying the load on it.
 */
export class RetryBudget {
  private tokens: number;
  private readonly o: RetryBudgetOptions;

  constructor(opts: Partial<RetryBudgetOptions> = {}) {
    this.o = { maxTokens: opts.maxTokens ?? 10, tokenRatio: opts.tokenRatio ?? 0.1 };
    this.tokens = this.o.maxTokens;
  }

  /** onSuccess returns part of a token. */
  onSuccess(): void {
    this.tokens = Math.min(this.o.maxTokens, this.tokens + this.o.tokenRatio);
  }

  /** onFailure takes a token. */
  onFailure(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  /** allowsRetry tells whether a retry may be sent now. */
  allowsRetry(): boolean {
    return this.tokens > this.o.maxTokens / 2;
  }
}
