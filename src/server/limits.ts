import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { limitKeyOf } from "./identity.js";
import type { Metrics } from "./metrics.js";
import { RateLimiter } from "./rate-limiter.js";

/**
 * Limits bound what one client can make the orchestrator do, and how much
 * one replica takes on. Zero turns a limit off.
 */
export interface Limits {
  /** The largest request message, in bytes (RESOURCE_EXHAUSTED above it). */
  maxMessageBytes: number;
  /** Concurrent HTTP/2 streams one connection may open (the SETTINGS_MAX_CONCURRENT_STREAMS the server announces). */
  maxStreamsPerConnection: number;
  /** Concurrent calls one token (or, without authentication, one client address) may have open. */
  maxStreamsPerToken: number;
  /** Turns per second one token may start, sustained; 0 for no limit. */
  turnsPerSecond: number;
  /** Turns one token may start at once above the sustained rate. */
  turnBurst: number;
  /** The largest session state, in bytes of JSON. */
  maxStateBytes: number;
  /** The most versions (committed turns, rollbacks) one session may have. */
  maxSessionVersions: number;
  /** Turns running at once on this replica, every API together; 0 for no limit. */
  maxTurnsInFlight: number;
  /** How late this replica's event loop may run (ms) before it refuses new turns; 0 for no limit. */
  maxLoopDelayMs: number;
}

/**
 * defaultLimits apply where the configuration says nothing.
 */
export const defaultLimits: Limits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 10_000,
  maxStreamsPerToken: 1_000,
  turnsPerSecond: 0,
  turnBurst: 0,
  maxStateBytes: 256 * 1024,
  maxSessionVersions: 10_000,
  maxTurnsInFlight: 4096,
  maxLoopDelayMs: 0,
};

/**
 * StreamCounter counts each client's open calls and refuses calls above
 * the limit with RESOURCE_EXHAUSTED.
 */
export class StreamCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /**
   * acquire counts a call for `key`, or throws when the key is at its
   * limit. Each acquire is matched by one `release`.
   */
  acquire(key: string): void {
    const n = this.open.get(key) ?? 0;
    if (this.limit > 0 && n >= this.limit) {
      throw new ConnectError(
        `too many concurrent calls: this token already has ${n} open, the limit is ${this.limit}; wait for some to finish`,
        Code.ResourceExhausted,
      );
    }
    this.open.set(key, n + 1);
  }

  /** release uncounts a call of `key`. */
  release(key: string): void {
    const left = (this.open.get(key) ?? 1) - 1;
    if (left <= 0) this.open.delete(key);
    else this.open.set(key, left);
  }

  /** openFor returns how many calls a key has open. */
  openFor(key: string): number {
    return this.open.get(key) ?? 0;
  }
}

/**
 * streamsInterceptor counts open calls per client and in the metrics, for
 * unary calls until they answer and for streams until they end.
 */
export function streamsInterceptor(counter: StreamCounter, metrics: Metrics | undefined): Interceptor {
  return (next) => async (req) => {
    const call = new CountedCall(counter, limitKeyOf(req.contextValues), metrics, `${req.service.typeName}/${req.method.name}`);
    try {
      const res = await next(req);
      if (!res.stream) {
        call.end();
        return res;
      }
      return { ...res, message: call.counting(res.message) as typeof res.message };
    } catch (e) {
      call.end();
      throw e;
    }
  };
}

/**
 * CountedCall is one call counted open, for its client and in the metrics,
 * until it ends; a stream's ends when its messages end, fail or are given
 * up. One object, the stream's messages' iterator too, with no closures:
 * an idle stream holds it for as long as it is open.
 */
class CountedCall<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private ended = false;
  private source: AsyncIterator<T> | undefined;

  constructor(
    private readonly counter: StreamCounter,
    private readonly key: string,
    private readonly metrics: Metrics | undefined,
    private readonly method: string,
  ) {
    try {
      counter.acquire(key);
    } catch (e) {
      metrics?.limitRejected("streams_per_token");
      throw e;
    }
    metrics?.streamOpened(method);
  }

  /** counting iterates `messages`, ending the call when they end. */
  counting(messages: AsyncIterable<T>): AsyncIterable<T> {
    this.source = messages[Symbol.asyncIterator]();
    return this;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.counter.release(this.key);
    this.metrics?.streamClosed(this.method);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    return (this.source as AsyncIterator<T>).next().then(
      (r) => {
        if (r.done === true) this.end();
        return r;
      },
      (e: unknown) => {
        this.end();
        throw e;
      },
    );
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return this.source?.return?.(value) ?? Promise.resolve({ done: true, value: undefined });
  }
}

/**
 * TurnRateLimit holds each client's turns-per-second budget.
 */
export class TurnRateLimit {
  private readonly limiter: RateLimiter | undefined;

  constructor(limits: Pick<Limits, "turnsPerSecond" | "turnBurst">, private readonly metrics?: Metrics) {
    this.limiter =
      limits.turnsPerSecond > 0
        ? new RateLimiter({ ratePerSecond: limits.turnsPerSecond, burst: Math.max(1, limits.turnBurst || Math.ceil(limits.turnsPerSecond)) })
        : undefined;
  }

  /**
   * take spends one turn of `key`'s budget, or throws RESOURCE_EXHAUSTED
   * saying when to try again.
   */
  take(key: string): void {
    if (this.limiter === undefined) return;
    const waitMs = this.limiter.take(key);
    if (waitMs > 0) {
      this.metrics?.limitRejected("turns_per_second");
      throw new ConnectError(
        `too many turns: the limit is ${this.limiter.ratePerSecond} per second per token; retry in ${Math.ceil(waitMs)}ms`,
        Code.ResourceExhausted,
      );
    }
  }
}
