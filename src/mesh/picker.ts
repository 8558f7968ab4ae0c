import { Code, ConnectError } from "@connectrpc/connect";
import { mark } from "../core/errors.js";
import type { Balancer, Candidate } from "./balancer.js";
import type { Bulkhead } from "./bulkhead.js";

/**
 * Pickable is an agent instance as a picker hands it out.
 */
export interface Pickable extends Candidate {
  /** The instance's address, as errors and step records name it. */
  readonly endpoint: string;
}

/**
 * BreakerDecision is how an instance's circuit breaker lets a call through:
 * as an ordinary call ("closed") or as the probe of an open breaker whose
 * cool-down is over ("half_open").
 */
export type BreakerDecision = "closed" | "half_open";

/**
 * PickerEntry is one live instance as a picker sees it: what its breaker
 * decided and whether it counted as healthy when the picker was built.
 */
export interface PickerEntry<I extends Pickable> {
  instance: I;
  /** Undefined when its breaker refuses calls (open, or a probe is running). */
  permits: BreakerDecision | undefined;
  /** Not reported NOT_SERVING by its health checks, and not ejected as an outlier. */
  healthy: boolean;
}

/**
 * Gate is one bulkhead a turn must hold a slot of before its agent is called.
 */
export interface Gate {
  readonly bulkhead: Bulkhead;
  /** Who the bulkhead belongs to, as errors name it ("agent refund", "the orchestrator"). */
  readonly owner: string;
}

/**
 * CompletePick is a pick that names the instance to call now.
 */
export interface CompletePick<I extends Pickable> {
  readonly type: "pick";
  readonly instance: I;
  readonly breaker: BreakerDecision;
}

/**
 * QueuePick tells the turn to wait: it holds no slot in its bulkheads yet.
 * Once it holds one in each of `gates`, in order, it picks again.
 */
export interface QueuePick {
  readonly type: "queue";
  readonly gates: readonly Gate[];
}

/**
 * UnroutablePick says that no instance can be called: none is live, or the
 * breakers of all of them refuse calls. Its error is UNAVAILABLE and marked
 * unroutable, so that the engine may turn to the stage's fallback agent.
 */
export interface UnroutablePick {
  readonly type: "unroutable";
  readonly error: ConnectError;
  /** "open" when instances are live but every breaker refuses calls; "" when none is live. */
  readonly breaker: "" | "open";
}

/**
 * PickResult is the outcome of a pick; its `type` says which case it is.
 */
export type PickResult<I extends Pickable> = CompletePick<I> | QueuePick | UnroutablePick;

/**
 * PickArgs are what a pick knows of the turn asking.
 */
export interface PickArgs {
  /** Ids of the instances this turn already tried: a retry prefers others. */
  readonly tried: ReadonlySet<string>;
  /** Whether the turn holds its bulkhead slots; until it does, picks queue it. */
  readonly admitted: boolean;
}

/**
 * Picker is the routing state of one agent at one moment: its live
 * instances with their breakers' decisions and health, as they were when
 * it was built. The mesh replaces it, never mutates it, when an instance
 * comes or goes or changes state; only the load that the balancer reads
 * (calls in flight, latency cost) is live.
 *
 * A pick goes to an instance whose breaker waits for its probe first (that
 * is how it recovers); otherwise to an instance not tried by this turn,
 * healthy and not ejected, balanced by load. When none is healthy, any
 * permitted one is tried rather than failing without trying. A first
 * attempt's pick allocates nothing: its results are built with the picker.
 */
export class Picker<I extends Pickable> {
  private readonly probes: I[] = [];
  private readonly closed: I[] = [];
  private readonly closedHealthy: I[] = [];
  private readonly healthy = new Set<I>();
  private readonly picks = new Map<I, CompletePick<I>>();
  private readonly queue: QueuePick;

  /** live is the number of the agent's live instances. */
  readonly live: number;

  /**
   * @param agent the agent's name, for errors.
   * @param entries the agent's live instances, in a stable order.
   * @param gates the bulkheads a turn must hold a slot of, in order.
   * @param nextProbeAt when the first open breaker lets a probe through
   *   (ms since the epoch), for the error when every breaker refuses calls.
   */
  constructor(
    readonly agent: string,
    entries: readonly PickerEntry<I>[],
    private readonly balancer: Balancer,
    gates: readonly Gate[],
    private readonly nextProbeAt: number,
  ) {
    this.queue = { type: "queue", gates };
    for (const e of entries) {
      if (e.healthy) this.healthy.add(e.instance);
      if (e.permits === "half_open") {
        this.probes.push(e.instance);
        this.picks.set(e.instance, { type: "pick", instance: e.instance, breaker: "half_open" });
      } else if (e.permits === "closed") {
        this.closed.push(e.instance);
        if (e.healthy) this.closedHealthy.push(e.instance);
        this.picks.set(e.instance, { type: "pick", instance: e.instance, breaker: "closed" });
      }
    }
    this.live = entries.length;
  }

  /**
   * pick chooses what the turn does next: call an instance, wait for its
   * bulkhead slots, or give up because no instance can be called.
   */
  pick(args: PickArgs, now: number): PickResult<I> {
    if (this.closed.length === 0 && this.probes.length === 0) return this.unroutable(now);
    if (!args.admitted) return this.queue;
    const tried = args.tried;
    const probe = this.probe(tried);
    if (probe !== undefined) return this.picks.get(probe) as CompletePick<I>;
    if (this.closed.length === 0) return this.unroutable(now);
    let chosen: I | undefined;
    if (tried.size === 0) {
      // Every turn's first attempt: the lists built with the picker serve as
      // they are. Only a retry filters out what it tried.
      chosen = this.balancer.pick(this.closedHealthy.length > 0 ? this.closedHealthy : this.closed, now);
    } else {
      const untried = this.closed.filter((i) => !tried.has(i.id));
      const pool = untried.length > 0 ? untried : this.closed;
      const good = pool.filter((i) => this.healthy.has(i));
      chosen = this.balancer.pick(good.length > 0 ? good : pool, now);
    }
    return chosen === undefined ? this.unroutable(now) : (this.picks.get(chosen) as CompletePick<I>);
  }

  /**
   * probe returns the instance whose breaker waits for its probe, if this
   * turn has not tried it: a healthy one, else any one when no breaker is
   * closed.
   */
  private probe(tried: ReadonlySet<string>): I | undefined {
    let fallback: I | undefined;
    for (const p of this.probes) {
      if (tried.has(p.id)) continue;
      if (this.healthy.has(p)) return p;
      fallback ??= p;
    }
    return this.closed.length === 0 ? fallback : undefined;
  }

  private unroutable(now: number): UnroutablePick {
    if (this.live === 0) {
      const error = new ConnectError(
        `agent ${this.agent} has no live instance: none is configured, or every registered one deregistered or let its lease run out`,
        Code.Unavailable,
      );
      return { type: "unroutable", error: mark(error, "unroutable"), breaker: "" };
    }
    const nextMs = Math.max(0, this.nextProbeAt - now);
    const error = new ConnectError(
      `agent ${this.agent} is unavailable: the circuit breakers of all its ${this.live} instance(s) are open after repeated failures; the next probe is in ${Math.ceil(nextMs / 1000)}s`,
      Code.Unavailable,
    );
    return { type: "unroutable", error: mark(error, "unroutable"), breaker: "open" };
  }
}
