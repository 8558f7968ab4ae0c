import { Code, ConnectError } from "@connectrpc/connect";
import type { AgentResult } from "../gen/switchboard/v1/turn_pb.js";
import { hasMark, withAgentCallFacts } from "../core/errors.js";
import type { AgentCall, AgentOutcome } from "../core/ports.js";
import type { StreamProgress } from "./agent-stream.js";
import { isInstanceFailure } from "./breaker.js";
import { BulkheadError } from "./bulkhead.js";
import type { BreakerDecision, Gate, PickArgs, Pickable, PickResult } from "./picker.js";
import { backoffMs, type RetrySettings } from "./retry.js";
import type { RetryBudget } from "./retry-budget.js";

/**
 * RetryingCallState is where a retrying call stands:
 * - "queued": it waits for a slot in each of its bulkheads; no attempt has
 *   been sent.
 * - "retry": attempts may be sent; one that fails retryably (the error's
 *   mark, see hasMark) is followed by another, on an instance not tried
 *   yet when there is one, after a backoff, within the attempts, the turn's
 *   time and the agent's retry budget.
 * - "committed": no attempt follows: output of the current attempt reached
 *   the caller (and cannot be taken back), or the call ended.
 */
export type RetryingCallState = "queued" | "retry" | "committed";

/**
 * CallChannel is what a retrying call needs of the mesh: a pick from the
 * agent's current picker, and one attempt on a picked instance (which feeds
 * the instance's breaker, health and load).
 */
export interface CallChannel<I extends Pickable> {
  pick(agent: string, args: PickArgs): PickResult<I>;
  attempt(instance: I, call: AgentCall, attempt: number, timeoutMs: number, progress: StreamProgress): Promise<AgentResult>;
}

/**
 * maxKeptOutput bounds the output text kept for the audit record of a turn
 * that fails midway.
 */
const maxKeptOutput = 64 * 1024;

/** maxTimerMs is the longest delay setTimeout takes (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

/**
 * RetryingCall is one agent call, from its first pick to its outcome: it
 * takes its bulkhead slots when a pick queues it, sends attempts to the
 * instances picked, and retries only while that is safe and allowed. A
 * failure carries the call's facts (see withAgentCallFacts): the last
 * instance, the attempts, the breaker's decision and the output already
 * delivered. Run it once.
 */
export class RetryingCall<I extends Pickable> implements PickArgs, StreamProgress {
  readonly tried = new Set<string>();
  private current: RetryingCallState = "queued";
  private delivering = false;
  private output = "";
  private attempts = 0;
  private instance = "";
  private breaker = "";
  private lastError: ConnectError | undefined;
  private readonly started = performance.now();
  private readonly deadline: number;
  /** Aborted when the turn's time runs out or its caller gives up: ends waits for a slot and backoffs. */
  private wait: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly releases: Array<() => void> = [];

  constructor(
    private readonly call: AgentCall,
    private readonly channel: CallChannel<I>,
    private readonly budget: RetryBudget,
    private readonly retry: RetrySettings,
    private readonly random: () => number = Math.random,
  ) {
    this.deadline = this.started + call.timeoutMs;
  }

  /** state is where the call stands. */
  get state(): RetryingCallState {
    return this.current;
  }

  /** delivered tells whether any output reached the caller. */
  get delivered(): boolean {
    return this.delivering;
  }

  /** admitted tells whether the call holds its bulkhead slots. */
  get admitted(): boolean {
    return this.current !== "queued";
  }

  /** deliver commits the call: output reached the caller, so no retry may repeat it. */
  deliver(text: string): void {
    this.delivering = true;
    this.current = "committed";
    if (this.output.length < maxKeptOutput) this.output += text.slice(0, maxKeptOutput - this.output.length);
  }

  /** handleEvent ends the call's waits when its caller gives up. */
  handleEvent(): void {
    this.wait?.abort();
  }

  /**
   * run makes the call: it returns the outcome of the attempt that
   * succeeded, or throws the error the call ended with, facts attached.
   */
  async run(): Promise<AgentOutcome> {
    try {
      for (;;) {
        const picked = this.channel.pick(this.call.agent, this);
        if (picked.type === "pick") {
          const outcome = await this.attempt(picked.instance, picked.breaker);
          if (outcome !== undefined) return outcome;
        } else if (picked.type === "queue") {
          await this.admit(picked.gates);
        } else {
          // Once an attempt was sent, its error says more than "no instance left".
          if (this.lastError !== undefined) throw this.lastError;
          this.breaker = picked.breaker;
          throw picked.error;
        }
      }
    } catch (e) {
      this.current = "committed";
      const err = ConnectError.from(e);
      throw withAgentCallFacts(err, {
        agent: this.call.agent,
        instance: this.instance,
        attempts: this.attempts,
        latencyMs: performance.now() - this.started,
        breaker: this.breaker,
        output: this.output,
      });
    } finally {
      for (let i = this.releases.length - 1; i >= 0; i--) (this.releases[i] as () => void)();
      clearTimeout(this.timer);
      if (this.wait !== undefined) this.call.signal.removeEventListener("abort", this);
    }
  }

  /**
   * attempt sends one attempt to a picked instance. It returns the call's
   * outcome, or undefined when a retry is due (after its backoff), or throws
   * when the call ends with the attempt's error.
   */
  private async attempt(instance: I, breaker: BreakerDecision): Promise<AgentOutcome | undefined> {
    const n = ++this.attempts;
    this.tried.add(instance.id);
    this.instance = instance.endpoint;
    this.breaker = breaker;
    const remaining = this.deadline - performance.now();
    if (remaining <= 0) {
      throw (
        this.lastError ??
        new ConnectError(
          `agent ${this.call.agent}: the turn's budget of ${Math.round(this.call.timeoutMs)}ms ran out before an instance could be called`,
          Code.DeadlineExceeded,
        )
      );
    }
    try {
      const result = await this.channel.attempt(instance, this.call, n, remaining, this);
      this.budget.onSuccess();
      this.current = "committed";
      return { result, instance: instance.endpoint, attempts: n, latencyMs: Math.round(performance.now() - this.started), breaker };
    } catch (e) {
      const err = ConnectError.from(e);
      this.lastError = err;
      if (isInstanceFailure(err)) this.budget.onFailure();
      if (!this.mayRetry(err)) throw err;
      const delay = backoffMs(n, this.retry, this.random);
      if (performance.now() + delay >= this.deadline) throw err;
      if (!(await sleep(delay, this.waitSignal()))) throw err;
      return undefined;
    }
  }

  /**
   * mayRetry tells whether a failed attempt may be followed by another: the
   * call is not committed, the error is marked retryable, the caller still
   * waits, attempts are left and the agent's retry budget allows one.
   */
  private mayRetry(err: ConnectError): boolean {
    return (
      this.current === "retry" &&
      hasMark(err, "retryable") &&
      !this.call.signal.aborted &&
      this.attempts < this.retry.maxAttempts &&
      this.budget.allowsRetry()
    );
  }

  /**
   * admit takes a slot in each gate, in order, or throws the error that
   * says why not; the call may then send attempts.
   */
  private async admit(gates: readonly Gate[]): Promise<void> {
    for (const gate of gates) {
      // A free slot (the usual case) is taken at once; only a call that
      // waits needs the wait's signal and timer.
      const release = this.call.signal.aborted ? undefined : gate.bulkhead.tryAcquire();
      this.releases.push(release ?? (await this.acquire(gate, this.waitSignal())));
    }
    this.current = "retry";
  }

  /**
   * waitSignal is the signal that ends waits for a slot and backoffs
   * between retries: it aborts when the turn's budget runs out or the
   * caller gives up. It is made on the first wait.
   */
  private waitSignal(): AbortSignal {
    if (this.wait === undefined) {
      const wait = new AbortController();
      this.wait = wait;
      this.call.signal.addEventListener("abort", this, { once: true });
      if (this.call.signal.aborted) wait.abort();
      this.timer = setTimeout(abortWait, Math.min(maxTimerMs, Math.max(0, this.deadline - performance.now())), wait);
    }
    return this.wait.signal;
  }

  private async acquire({ bulkhead, owner }: Gate, signal: AbortSignal): Promise<() => void> {
    try {
      return await bulkhead.acquire(signal);
    } catch (e) {
      if (!(e instanceof BulkheadError)) throw e;
      if (e.reason === "full") {
        throw new ConnectError(
          `${owner} has ${bulkhead.running} turns running and ${bulkhead.queued} waiting, its limit; try again shortly`,
          Code.ResourceExhausted,
        );
      }
      if (this.call.signal.aborted) {
        throw new ConnectError(`the turn was cancelled while waiting for a free slot of ${owner}`, Code.Canceled);
      }
      throw new ConnectError(
        `the turn's budget of ${Math.round(this.call.timeoutMs)}ms ran out while waiting for a free slot of ${owner} (${bulkhead.running} turns running)`,
        Code.DeadlineExceeded,
      );
    }
  }
}

function abortWait(wait: AbortController): void {
  wait.abort();
}

/**
 * sleep waits `ms`, or less when the signal aborts; it tells whether it
 * waited the whole time.
 */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (full: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(full);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
