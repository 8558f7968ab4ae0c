/**
 * RateLimiterOptions configure a token-bucket rate limiter.
 */
export interface RateLimiterOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** The bucket size: how many may be taken at once. */
  burst: number;
  /** The most keys tracked; the least recently used are forgotten (a full bucket). */
  maxKeys?: number;
  /** The time source, in milliseconds; performance.now by default. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * RateLimiter is a token bucket per key, with a bounded number of keys.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly opts: RateLimiterOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  get ratePerSecond(): number {
    return this.opts.ratePerSecond;
  }

  /**
   * take takes one token for `key`. It returns 0 when there was one, else
   * the milliseconds until there will be (and takes nothing).
   */
  take(key: string): number {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.opts.burst, at: now };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    } else {
      // Re-insert so the map's order is least recently used first.
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.opts.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.opts.ratePerSecond);
      bucket.at = now;
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return ((1 - bucket.tokens) / this.opts.ratePerSecond) * 1000;
  }
}
