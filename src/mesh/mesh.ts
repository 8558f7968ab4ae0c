import { Code, ConnectError } from "@connectrpc/connect";
import { BrokenCircuitError } from "cockatiel";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { AgentService } from "../gen/switchboard/v1/agent_pb.js";
import { hasMark, mark, withAgentCallFacts } from "../core/errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "../core/ports.js";
import { type StreamProgress, streamTurn } from "./agent-stream.js";
import type { Balancer, Candidate } from "./balancer.js";
import { leastOutstandingBalancer } from "./balancer-least-outstanding.js";
import { p2cBalancer } from "./balancer-p2c.js";
import { type BreakerOptions, type BreakerState, defaultBreakerOptions, InstanceBreaker, isInstanceFailure } from "./breaker.js";
import { Bulkhead, BulkheadError } from "./bulkhead.js";
import { ConnectionPool, grpcTransport, isConnectionFailure, type TransportFactory } from "./connection-pool.js";
import {
  defaultHealthCheckOptions,
  type HealthCheckOptions,
  HealthChecker,
  type HealthVerdict,
  type InstanceHealthState,
} from "./health-checker.js";
import { LatencyStats } from "./latency.js";
import { defaultOutlierOptions, OutlierDetector, type OutlierOptions } from "./outlier-detector.js";
import type { InstanceInfo, Registry } from "./registry.js";
import { backoffMs, defaultRetrySettings, RetryBudget, type RetryBudgetOptions, type RetrySettings, retrySettings } from "./retry.js";

/**
 * AgentLimits bound the turns of one agent (its bulkhead).
 */
export interface AgentLimits {
  /** Turns of the agent running at once on this replica. */
  maxConcurrentTurns: number;
  /** Turns waiting for a slot; more are refused with RESOURCE_EXHAUSTED. */
  maxQueuedTurns: number;
}

/**
 * MeshOptions configure the mesh.
 */
export interface MeshOptions {
  breaker: BreakerOptions;
  /** Retries when the stage sets no retry policy. */
  retry: RetrySettings;
  retryBudget: Partial<RetryBudgetOptions>;
  /** The bulkhead of every agent without limits of its own. */
  agentLimits: AgentLimits;
  /** Limits of particular agents, by name, over `agentLimits`. */
  limitsByAgent: Record<string, Partial<AgentLimits>>;
  /** Agent calls running at once on this replica, all agents together. */
  maxConcurrentCalls: number;
  health: HealthCheckOptions;
  outlier: OutlierOptions;
  balancer: "p2c" | "least-outstanding";
  /** What a failed call counts for in an instance's latency cost. */
  failurePenaltyMs: number;
  /** How fast an idle instance's latency cost fades. */
  latencyDecayMs: number;
  transport: TransportFactory;
  /** Called when an instance's breaker, health or ejection changes, e.g. to log it. */
  onEvent?: (event: MeshEvent) => void;
}

/**
 * MeshEvent is a change in an instance's state that operators want to know of.
 */
export interface MeshEvent {
  kind: "breaker" | "health" | "ejected";
  agent: string;
  instance: string;
  /** The new state: a BreakerState, an InstanceHealthState, or "ejected". */
  state: string;
}

/**
 * defaultMeshOptions are the mesh settings when none are configured.
 */
export const defaultMeshOptions: MeshOptions = {
  breaker: defaultBreakerOptions,
  retry: defaultRetrySettings,
  retryBudget: {},
  agentLimits: { maxConcurrentTurns: 64, maxQueuedTurns: 64 },
  limitsByAgent: {},
  maxConcurrentCalls: 1024,
  health: defaultHealthCheckOptions,
  outlier: defaultOutlierOptions,
  balancer: "p2c",
  failurePenaltyMs: 1000,
  latencyDecayMs: 10_000,
  transport: grpcTransport,
};

/**
 * InstanceStatus is an instance's state on this replica, for ListAgents.
 */
export interface InstanceStatus {
  health: ServingStatusName;
  breaker: BreakerState;
  inFlight: number;
  /** Median latency of recent calls, ms; undefined before the first. */
  recentLatencyMs: number | undefined;
}

/**
 * ServingStatusName is an instance's health as ListAgents reports it.
 */
export type ServingStatusName = InstanceHealthState | "ejected";

class InstanceState implements Candidate {
  inFlight = 0;
  retired = false;
  readonly latency: LatencyStats;
  readonly breaker: InstanceBreaker;

  constructor(public info: InstanceInfo, opts: MeshOptions) {
    this.latency = new LatencyStats(opts.latencyDecayMs);
    const onEvent = opts.onEvent;
    this.breaker = new InstanceBreaker(
      opts.breaker,
      onEvent && ((state) => onEvent({ kind: "breaker", agent: this.info.name, instance: this.info.endpoint, state })),
    );
  }

  get id(): string {
    return this.info.id;
  }

  cost(now: number): number {
    return this.latency.cost(now);
  }
}

interface AgentState {
  bulkhead: Bulkhead;
  budget: RetryBudget;
  outliers: OutlierDetector;
}

/**
 * Mesh is the AgentInvoker of a running orchestrator. For each turn it
 * takes a slot in the agent's bulkhead, picks a healthy instance whose
 * breaker permits a call (balancing by load), streams the turn to it over
 * the instance's pooled HTTP/2 connection within the turn's budget, and
 * retries elsewhere, with backoff and within a retry budget, only when that
 * is safe. Every outcome feeds the instance's breaker, health, outlier
 * ejection and latency cost.
 */
export class Mesh implements AgentInvoker {
  private readonly opts: MeshOptions;
  private readonly states = new Map<string, InstanceState>();
  private readonly agents = new Map<string, AgentState>();
  private readonly global: Bulkhead;
  private readonly pool: ConnectionPool;
  private readonly health: HealthChecker;
  private readonly balancer: Balancer;
  private readonly unsubscribe: () => void;
  private readonly outlierTimer: NodeJS.Timeout;

  constructor(private readonly registry: Registry, opts: Partial<MeshOptions> = {}) {
    this.opts = { ...defaultMeshOptions, ...opts };
    this.global = new Bulkhead(this.opts.maxConcurrentCalls, this.opts.maxConcurrentCalls);
    this.pool = new ConnectionPool(this.opts.transport);
    this.health = new HealthChecker(
      this.opts.health,
      (id) => this.probe(id),
      Math.random,
      (id, state) => this.emit("health", id, state),
    );
    this.balancer = this.opts.balancer === "least-outstanding" ? leastOutstandingBalancer() : p2cBalancer();
    this.unsubscribe = registry.onChange(() => this.sync());
    this.outlierTimer = setInterval(() => this.evaluateOutliers(), this.opts.outlier.intervalMs);
    this.outlierTimer.unref();
    this.sync();
  }

  has(agent: string): boolean {
    return this.registry.has(agent);
  }

  /**
   * status returns an instance's state on this replica.
   */
  status(instanceId: string): InstanceStatus {
    const s = this.states.get(instanceId);
    if (s === undefined) return { health: "unknown", breaker: "closed", inFlight: 0, recentLatencyMs: undefined };
    const ejected = this.agent(s.info.name).outliers.isEjected(s.id, Date.now());
    return {
      health: ejected ? "ejected" : this.health.state(s.id),
      breaker: s.breaker.state,
      inFlight: s.inFlight,
      recentLatencyMs: s.latency.median(),
    };
  }

  /**
   * close stops health checks and closes every connection.
   */
  close(): void {
    this.unsubscribe();
    clearInterval(this.outlierTimer);
    this.health.stop();
    this.pool.closeAll();
  }

  async invoke(call: AgentCall): Promise<AgentOutcome> {
    const started = performance.now();
    const deadline = started + call.timeoutMs;
    const progress: StreamProgress = { delivered: false, output: "" };
    const facts = { agent: call.agent, instance: "", attempts: 0, latencyMs: 0, breaker: "", output: "" };
    const fail = (err: ConnectError): ConnectError =>
      withAgentCallFacts(err, { ...facts, output: progress.output, latencyMs: performance.now() - started });

    const unroutable = this.unroutable(call.agent);
    if (unroutable !== undefined) {
      facts.breaker = unroutable.breaker;
      throw fail(unroutable.err);
    }

    // Waiting for a slot and between retries ends with the turn's budget or
    // when the caller gives up.
    const wait = new AbortController();
    const onAbort = () => wait.abort();
    call.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(onAbort, Math.min(maxTimerMs, Math.max(0, call.timeoutMs)));
    const agent = this.agent(call.agent);
    const releases: Array<() => void> = [];
    try {
      releases.push(await this.acquire(agent.bulkhead, call, wait.signal, `agent ${call.agent}`));
      releases.push(await this.acquire(this.global, call, wait.signal, "the orchestrator"));
      const retry = retrySettings(call.retry, this.opts.retry);
      const tried = new Set<string>();
      let lastError: ConnectError | undefined;
      for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
        const picked = this.pick(call.agent, tried);
        if (picked === undefined) {
          // While the turn waited for a slot, the instances may have gone or failed.
          const gone = attempt === 1 ? this.unroutable(call.agent) : undefined;
          if (gone !== undefined) {
            facts.breaker = gone.breaker;
            throw gone.err;
          }
          break;
        }
        const [state, decision] = picked;
        tried.add(state.id);
        facts.attempts = attempt;
        facts.instance = state.info.endpoint;
        facts.breaker = decision;
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        try {
          const result = await this.attempt(state, call, attempt, remaining, progress);
          agent.budget.onSuccess();
          return {
            result,
            instance: state.info.endpoint,
            attempts: attempt,
            latencyMs: Math.round(performance.now() - started),
            breaker: decision,
          };
        } catch (e) {
          const err = ConnectError.from(e);
          lastError = err;
          if (isInstanceFailure(err)) agent.budget.onFailure();
          const retryable = hasMark(err, "retryable") && !progress.delivered && !call.signal.aborted;
          if (!retryable || attempt >= retry.maxAttempts || !agent.budget.allowsRetry()) throw err;
          const delay = backoffMs(attempt, retry);
          if (performance.now() + delay >= deadline) throw err;
          if (!(await sleep(delay, wait.signal))) throw err;
        }
      }
      throw (
        lastError ??
        new ConnectError(
          `agent ${call.agent}: the turn's budget of ${Math.round(call.timeoutMs)}ms ran out before an instance could be called`,
          Code.DeadlineExceeded,
        )
      );
    } catch (e) {
      throw fail(ConnectError.from(e));
    } finally {
      for (const release of releases.reverse()) release();
      clearTimeout(timer);
      call.signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * unroutable returns the error for an agent none of whose instances can be
   * called now (none is live, or every breaker is open), marked so that the
   * engine may turn to the stage's fallback agent; undefined otherwise.
   */
  private unroutable(agent: string): { err: ConnectError; breaker: string } | undefined {
    const live = this.live(agent);
    if (live.length === 0) {
      const err = new ConnectError(
        `agent ${agent} has no live instance: none is configured, or every registered one deregistered or let its lease run out`,
        Code.Unavailable,
      );
      return { err: mark(err, "unroutable"), breaker: "" };
    }
    if (live.every((s) => s.breaker.permits() === undefined)) {
      const next = Math.min(...live.map((s) => s.breaker.retryInMs()));
      const err = new ConnectError(
        `agent ${agent} is unavailable: the circuit breakers of all its ${live.length} instance(s) are open after repeated failures; the next probe is in ${Math.ceil(next / 1000)}s`,
        Code.Unavailable,
      );
      return { err: mark(err, "unroutable"), breaker: "open" };
    }
    return undefined;
  }

  /**
   * acquire takes a bulkhead slot, or throws the error that says why not.
   */
  private async acquire(
    bulkhead: Bulkhead,
    call: AgentCall,
    signal: AbortSignal,
    owner: string,
  ): Promise<() => void> {
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
      if (call.signal.aborted) {
        throw new ConnectError(`the turn was cancelled while waiting for a free slot of ${owner}`, Code.Canceled);
      }
      throw new ConnectError(
        `the turn's budget of ${Math.round(call.timeoutMs)}ms ran out while waiting for a free slot of ${owner} (${bulkhead.running} turns running)`,
        Code.DeadlineExceeded,
      );
    }
  }

  /**
   * attempt runs one attempt on one instance and feeds its outcome to the
   * instance's breaker, latency cost, health and outlier detection.
   */
  private async attempt(
    state: InstanceState,
    call: AgentCall,
    attempt: number,
    timeoutMs: number,
    progress: StreamProgress,
  ) {
    const conn = this.pool.get(state.id, state.info.endpoint);
    const outliers = this.agent(state.info.name).outliers;
    state.inFlight++;
    const t0 = performance.now();
    try {
      const result = await state.breaker.execute(() => streamTurn(conn, state.info.endpoint, call, attempt, timeoutMs, progress)).catch((e: unknown) => {
        // Only if the breaker changed between the pick and the call.
        if (e instanceof BrokenCircuitError) {
          throw mark(new ConnectError(`agent ${call.agent} at ${state.info.endpoint}: circuit breaker open`, Code.Unavailable), "retryable");
        }
        throw e;
      });
      state.latency.observe(performance.now() - t0, Date.now());
      outliers.record(state.id, true);
      this.health.reportSuccess(state.id);
      return result;
    } catch (e) {
      if (isInstanceFailure(e)) {
        state.latency.observe(performance.now() - t0, Date.now(), this.opts.failurePenaltyMs);
        outliers.record(state.id, false);
      }
      if (isConnectionFailure(e)) this.health.reportUnreachable(state.id);
      throw e;
    } finally {
      state.inFlight--;
      if (state.retired && state.inFlight === 0) this.pool.close(state.id);
    }
  }

  /**
   * pick chooses the instance for the next attempt and the breaker's
   * decision for it, or undefined when no instance's breaker permits a call.
   * An instance whose breaker waits for its probe goes first (that is how it
   * recovers); otherwise instances not tried in this turn, healthy and not
   * ejected, are balanced by load. When none is healthy, any permitted one is
   * tried rather than failing without trying.
   */
  private pick(agent: string, tried: ReadonlySet<string>): [InstanceState, "closed" | "half_open"] | undefined {
    const now = Date.now();
    const { outliers } = this.agent(agent);
    const healthy = (s: InstanceState) => this.health.state(s.id) !== "not_serving" && !outliers.isEjected(s.id, now);
    const closed: InstanceState[] = [];
    const probes: InstanceState[] = [];
    for (const s of this.live(agent)) {
      const decision = s.breaker.permits();
      if (decision === "closed") closed.push(s);
      else if (decision === "half_open" && !tried.has(s.id)) probes.push(s);
    }
    const probe = probes.find(healthy) ?? (closed.length === 0 ? probes[0] : undefined);
    if (probe !== undefined) return [probe, "half_open"];
    if (closed.length === 0) return undefined;
    const untried = closed.filter((s) => !tried.has(s.id));
    const pool = untried.length > 0 ? untried : closed;
    const good = pool.filter(healthy);
    const chosen = this.balancer.pick(good.length > 0 ? good : pool, now);
    return chosen === undefined ? undefined : [chosen, "closed"];
  }

  /**
   * live returns the states of an agent's live instances.
   */
  private live(agent: string): InstanceState[] {
    return this.registry.instances(agent).map((info) => this.ensure(info));
  }

  private ensure(info: InstanceInfo): InstanceState {
    let s = this.states.get(info.id);
    if (s === undefined) {
      s = new InstanceState(info, this.opts);
      this.states.set(info.id, s);
      this.health.watch(info.id);
    } else {
      s.info = info;
    }
    return s;
  }

  /**
   * sync follows the registry: new instances get a state and health checks,
   * departed ones are dropped and their connections closed once idle.
   */
  private sync(): void {
    const live = new Set<string>();
    for (const info of this.registry.instances()) {
      live.add(info.id);
      this.ensure(info);
    }
    for (const [id, s] of this.states) {
      if (live.has(id)) continue;
      this.states.delete(id);
      s.retired = true;
      this.health.unwatch(id);
      this.agents.get(s.info.name)?.outliers.forget(id);
      if (s.inFlight === 0) this.pool.close(id);
    }
  }

  private agent(name: string): AgentState {
    let a = this.agents.get(name);
    if (a === undefined) {
      const limits = { ...this.opts.agentLimits, ...this.opts.limitsByAgent[name] };
      a = {
        bulkhead: new Bulkhead(limits.maxConcurrentTurns, limits.maxQueuedTurns),
        budget: new RetryBudget(this.opts.retryBudget),
        outliers: new OutlierDetector(this.opts.outlier),
      };
      this.agents.set(name, a);
    }
    return a;
  }

  private evaluateOutliers(): void {
    const now = Date.now();
    const byAgent = new Map<string, string[]>();
    for (const s of this.states.values()) {
      const ids = byAgent.get(s.info.name);
      if (ids === undefined) byAgent.set(s.info.name, [s.id]);
      else ids.push(s.id);
    }
    for (const [name, ids] of byAgent) {
      for (const id of this.agent(name).outliers.evaluate(ids, now)) this.emit("ejected", id, "ejected");
    }
  }

  private emit(kind: MeshEvent["kind"], id: string, state: string): void {
    const s = this.states.get(id);
    if (s !== undefined) this.opts.onEvent?.({ kind, agent: s.info.name, instance: s.info.endpoint, state });
  }

  /**
   * probe checks one instance with the gRPC health protocol: the
   * AgentService's status, else the server's; an agent without a health
   * service counts as serving once it answers at all.
   */
  private async probe(id: string): Promise<HealthVerdict> {
    const s = this.states.get(id);
    if (s === undefined) return "not_serving";
    const { health } = this.pool.get(id, s.info.endpoint);
    const timeoutMs = this.opts.health.timeoutMs;
    for (const service of [AgentService.typeName, ""]) {
      try {
        const res = await health.check({ service }, { timeoutMs });
        return res.status === ServingStatus.SERVING ? "serving" : "not_serving";
      } catch (e) {
        const err = ConnectError.from(e);
        if (err.code === Code.NotFound && service !== "") continue;
        if (err.code === Code.Unimplemented) return "serving";
        if (isConnectionFailure(err) || err.code === Code.Unavailable || err.code === Code.DeadlineExceeded) return "unreachable";
        return "not_serving";
      }
    }
    return "not_serving";
  }
}

/** maxTimerMs is the longest delay setTimeout takes (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

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
