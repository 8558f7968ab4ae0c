import { Code, ConnectError } from "@connectrpc/connect";
import { type CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";
import { hasMark, mark } from "../core/errors.js";

/**
 * BreakerOptions configure the circuit breaker of each agent instance.
 */
export interface BreakerOptions {
  /** Consecutive failed calls that open the breaker. Default 5. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets one probe through. Default 10s. */
  coolDownMs: number;
}

/**
 * defaultBreakerOptions are the breaker settings when none are configured.
 */
export const defaultBreakerOptions: BreakerOptions = { failureThreshold: 5, coolDownMs: 10_000 };

/**
 * BreakerState is a breaker's state as step records and ListAgents show it.
 */
export type BreakerState = "closed" | "open" | "half_open";

/**
 * instanceFailureCodes are the outcomes that count against an instance:
 * it could not be reached, broke, or ran out of time. Errors that describe
 * the request (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) or a caller that
 * gave up (CANCELED) say nothing about the instance's health.
 */
const instanceFailureCodes = new Set<Code>([
  Code.Unavailable,
  Code.Internal,
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.DataLoss,
  Code.ResourceExhausted,
]);

/**
 * excuseAsLate marks a failure that came of this process being late, not
 * of the instance: a deadline that passed while the event loop stalled
 * (the answer may have been there, unread). It still fails the call, but
 * counts against no instance.
 */
export function excuseAsLate(err: ConnectError): void {
  mark(err, "late");
}

/**
 * isInstanceFailure tells whether a failed call counts against the instance
 * that served it (for its breaker, its outlier ejection and its load cost).
 */
export function isInstanceFailure(err: unknown): boolean {
  return err instanceof ConnectError && instanceFailureCodes.has(err.code) && !hasMark(err, "late");
}

/**
 * InstanceBreaker is one instance's circuit breaker: cockatiel's
 * CircuitBreakerPolicy with a ConsecutiveBreaker, so `failureThreshold`
 * failures in a row open it; after `coolDownMs` the next call is a probe
 * (half-open) that closes it on success and opens it again on failure.
 */
export class InstanceBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private openedAt = 0;

  // cockatiel times the cool-down with Date.now(), so this class does too.
  private readonly now = Date.now;

  /**
   * @param onChange called with the new state whenever it changes.
   */
  constructor(private readonly opts: BreakerOptions, onChange?: (state: BreakerState) => void) {
    this.policy = circuitBreaker(handleWhen(isInstanceFailure), {
      halfOpenAfter: opts.coolDownMs,
      breaker: new ConsecutiveBreaker(opts.failureThreshold),
    });
    this.policy.onBreak(() => {
      this.openedAt = this.now();
    });
    if (onChange !== undefined) this.policy.onStateChange(() => onChange(this.state));
  }

  /**
   * state is the breaker's state.
   */
  get state(): BreakerState {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return "closed";
      case CircuitState.HalfOpen:
        return "half_open";
      default:
        return "open";
    }
  }

  /**
   * permits tells whether a call may be sent now, and as what: "closed" for
   * an ordinary call, "half_open" for the probe of an open breaker whose
   * cool-down is over; undefined when the breaker refuses calls (open, or a
   * probe is already running).
   */
  permits(): "closed" | "half_open" | undefined {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return "closed";
      case CircuitState.Open:
        return this.now() - this.openedAt >= this.opts.coolDownMs ? "half_open" : undefined;
      default:
        return undefined;
    }
  }

  /**
   * retryInMs is how long until an open breaker lets a probe through.
   */
  retryInMs(): number {
    return Math.max(0, this.probeAt() - this.now());
  }

  /**
   * probeAt is when an open breaker lets a probe through (ms since the
   * epoch); 0 when it is not open. Until then `permits()` refuses calls.
   */
  probeAt(): number {
    return this.policy.state === CircuitState.Open ? this.openedAt + this.opts.coolDownMs : 0;
  }

  /**
   * execute runs a call through the breaker, which records its outcome.
   * Callers check `permits()` first: a refused call throws cockatiel's
   * BrokenCircuitError.
   */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(fn);
  }
}
