import { Code, ConnectError } from "@connectrpc/connect";
import { BrokenCircuitError } from "cockatiel";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import { AgentCardSchema, AgentService } from "../gen/switchboard/v1/agent_pb.js";
import type { AgentResult } from "../gen/switchboard/v1/turn_pb.js";
import { a2aCardUrl, a2aTargetProblem } from "../core/a2a-target.js";
import { mark } from "../core/errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "../core/ports.js";
import { A2aCards } from "./a2a-cards.js";
import { streamA2aTurn } from "./a2a-stream.js";
import { type StreamProgress, streamTurn } from "./agent-stream.js";
import type { Balancer } from "./balancer.js";
import { leastOutstandingBalancer } from "./balancer-least-outstanding.js";
import { p2cBalancer } from "./balancer-p2c.js";
import { type BreakerState, InstanceBreaker, isInstanceFailure } from "./breaker.js";
import { Bulkhead } from "./bulkhead.js";
import { ConnectionPool, isConnectionFailure } from "./connection-pool.js";
import { HealthChecker, type HealthVerdict } from "./health-checker.js";
import { LatencyStats } from "./latency.js";
import { type LoopDelay, processLoopDelay } from "./loop-delay.js";
import { defaultMeshOptions, type InstanceStatus, type MeshEvent, type MeshOptions } from "./mesh-options.js";
import { OutlierDetector } from "./outlier-detector.js";
import { type Gate, type Pickable, Picker, type PickArgs, type PickerEntry, type PickResult } from "./picker.js";
import type { InstanceInfo, Registry } from "./registry.js";
import { retrySettings } from "./retry.js";
import { RetryBudget } from "./retry-budget.js";
import { type CallChannel, RetryingCall } from "./retrying-call.js";

// The mesh's settings and reports live in mesh-options.ts; importers of
// mesh.js find them here too.
export type { AgentLimits, MeshOptions, ServingStatusName } from "./mesh-options.js";
export { defaultMeshOptions } from "./mesh-options.js";

class InstanceState implements Pickable {
  inFlight = 0;
  retired = false;
  readonly latency: LatencyStats;
  readonly breaker: InstanceBreaker;

  constructor(public info: InstanceInfo, opts: MeshOptions, onBreakerChange: (s: InstanceState, state: BreakerState) => void) {
    this.latency = new LatencyStats(opts.latencyDecayMs);
    this.breaker = new InstanceBreaker(opts.breaker, (state) => onBreakerChange(this, state));
  }

  get id(): string {
    return this.info.id;
  }

  /** endpoint is the instance's address: its card URL for an A2A agent. */
  get endpoint(): string {
    return a2aCardUrl(this.info.endpoint) ?? this.info.endpoint;
  }

  /** cardUrl is the Agent Card's URL of an A2A agent; undefined for a Switchboard agent. */
  get cardUrl(): string | undefined {
    return a2aCardUrl(this.info.endpoint);
  }

  cost(now: number): number {
    return this.latency.cost(now);
  }
}

interface AgentState {
  budget: RetryBudget;
  outliers: OutlierDetector;
  /** The agent's bulkhead, then the orchestrator's. */
  gates: readonly Gate[];
}

/**
 * Published is an agent's current picker with when it goes stale by itself:
 * an open breaker's cool-down, an ejection and a lease end with time, not
 * with an event.
 */
interface Published {
  picker: Picker<InstanceState>;
  /** When a cool-down or an ejection ends (Date.now). */
  staleAt: number;
  /** When the first lease runs out (the registry's clock). */
  leasesEndAt: number;
}

/**
 * Mesh is the AgentInvoker of a running orchestrator. It keeps the agent
 * instances' lifecycle: it follows the registry, checks health, ejects
 * outliers, keeps a circuit breaker and a latency cost per instance, and
 * publishes each agent's picker anew whenever any of that changes. A turn
 * is a RetryingCall over that picker: it takes a slot in the agent's
 * bulkhead, streams to a picked instance over its pooled HTTP/2 connection
 * within the turn's budget, and retries elsewhere only when that is safe.
 * Every outcome feeds the instance's breaker, health, outlier ejection and
 * latency cost.
 *
 * An A2A agent is one more kind of instance under the same picker, breaker
 * and retries: a stage names it by its card URL (`a2a:URL`, one instance),
 * or the agents file lists card URLs under one name (balanced like any
 * agent's instances); its attempts stream over the A2A SDK's client
 * (a2a-stream.ts) instead of HandleTurn.
 */
export class Mesh implements AgentInvoker {
  private readonly opts: MeshOptions;
  private readonly states = new Map<string, InstanceState>();
  private readonly agents = new Map<string, AgentState>();
  private readonly pickers = new Map<string, Published>();
  private readonly global: Bulkhead;
  private readonly pool: ConnectionPool;
  private readonly health: HealthChecker;
  private readonly balancer: Balancer;
  private readonly channel: CallChannel<InstanceState>;
  private readonly unsubscribe: () => void;
  private readonly outlierTimer: NodeJS.Timeout;
  private readonly loop: LoopDelay;
  private readonly a2a = new A2aCards();
  /** The A2A agents stages name by card URL, each its own single instance. */
  private readonly direct = new Map<string, InstanceInfo>();

  constructor(private readonly registry: Registry, opts: Partial<MeshOptions> = {}) {
    this.opts = { ...defaultMeshOptions, ...opts };
    this.global = new Bulkhead(this.opts.maxConcurrentCalls, this.opts.maxConcurrentCalls);
    this.pool = new ConnectionPool(this.opts.transport);
    this.loop = this.opts.loopDelay ?? processLoopDelay();
    this.health = new HealthChecker(
      this.opts.health,
      (id) => this.probe(id),
      Math.random,
      (id, state) => this.changed("health", id, state),
      this.loop,
    );
    this.balancer = this.opts.balancer === "least-outstanding" ? leastOutstandingBalancer() : p2cBalancer();
    this.channel = {
      pick: (agent, args) => this.pick(agent, args),
      attempt: (state, call, attempt, timeoutMs, progress) => this.attempt(state, call, attempt, timeoutMs, progress),
    };
    this.unsubscribe = registry.onChange(() => this.sync());
    this.outlierTimer = setInterval(() => this.evaluateOutliers(), this.opts.outlier.intervalMs);
    this.outlierTimer.unref();
    this.sync();
  }

  has(agent: string): boolean {
    return this.directA2a(agent) !== undefined || this.registry.has(agent);
  }

  /**
   * instancesOf lists an agent's live instances: the registry's, or the one
   * of an A2A agent named by its card URL.
   */
  private instancesOf(agent: string): InstanceInfo[] {
    const direct = this.directA2a(agent);
    return direct !== undefined ? [direct] : this.registry.instances(agent);
  }

  /**
   * directA2a returns the instance of an agent named `a2a:` and a card URL,
   * made on first use; undefined for any other name.
   */
  private directA2a(agent: string): InstanceInfo | undefined {
    if (a2aCardUrl(agent) === undefined) return undefined;
    let info = this.direct.get(agent);
    if (info === undefined) {
      if (a2aTargetProblem(agent) !== undefined) return undefined;
      info = { id: agent, name: agent, card: create(AgentCardSchema, { name: agent }), endpoint: agent, source: "static", expiresAt: undefined };
      this.direct.set(agent, info);
      this.sync();
    }
    return info;
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

  invoke(call: AgentCall): Promise<AgentOutcome> {
    const { budget } = this.agent(call.agent);
    return new RetryingCall(call, this.channel, budget, retrySettings(call.retry, this.opts.retry)).run();
  }

  /**
   * pick asks the agent's current picker, publishing a new one first when
   * there is none or it went stale.
   */
  private pick(agent: string, args: PickArgs): PickResult<InstanceState> {
    const now = Date.now();
    let p = this.pickers.get(agent);
    if (p === undefined || now >= p.staleAt || this.registry.now() >= p.leasesEndAt) p = this.publish(agent, now);
    return p.picker.pick(args, now);
  }

  /**
   * publish builds an agent's picker from its live instances' breakers,
   * health and ejections as they are now.
   */
  private publish(agent: string, now: number): Published {
    const { outliers, gates } = this.agent(agent);
    const entries: PickerEntry<InstanceState>[] = [];
    let staleAt = Infinity;
    let leasesEndAt = Infinity;
    let nextProbeAt = Infinity;
    for (const info of this.instancesOf(agent)) {
      const s = this.ensure(info);
      if (info.expiresAt !== undefined) leasesEndAt = Math.min(leasesEndAt, info.expiresAt);
      const permits = s.breaker.permits();
      const probeAt = s.breaker.probeAt();
      nextProbeAt = Math.min(nextProbeAt, probeAt);
      if (permits === undefined && probeAt > 0) staleAt = Math.min(staleAt, probeAt);
      const ejectedUntil = outliers.ejectedUntil(s.id);
      if (ejectedUntil > now) staleAt = Math.min(staleAt, ejectedUntil);
      entries.push({ instance: s, permits, healthy: ejectedUntil <= now && this.health.state(s.id) !== "not_serving" });
    }
    const published = { picker: new Picker(agent, entries, this.balancer, gates, nextProbeAt), staleAt, leasesEndAt };
    this.pickers.set(agent, published);
    return published;
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
  ): Promise<AgentResult> {
    const cardUrl = state.cardUrl;
    const send =
      cardUrl !== undefined
        ? () => streamA2aTurn(this.a2a, cardUrl, call, attempt, timeoutMs, progress, this.loop)
        : () => streamTurn(this.pool.get(state.id, state.info.endpoint), state.info.endpoint, call, attempt, timeoutMs, progress, this.loop);
    const outliers = this.agent(state.info.name).outliers;
    state.inFlight++;
    const t0 = performance.now();
    try {
      const result = await state.breaker.execute(send).catch((e: unknown) => {
        // Only if the breaker changed between the pick and the call.
        if (e instanceof BrokenCircuitError) {
          throw mark(new ConnectError(`agent ${call.agent} at ${state.endpoint}: circuit breaker open`, Code.Unavailable), "retryable");
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

  private ensure(info: InstanceInfo): InstanceState {
    let s = this.states.get(info.id);
    if (s === undefined) {
      s = new InstanceState(info, this.opts, (changed, state) => this.breakerChanged(changed, state));
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
    this.pickers.clear();
    const live = new Set<string>();
    for (const info of [...this.registry.instances(), ...this.direct.values()]) {
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
        budget: new RetryBudget(this.opts.retryBudget),
        outliers: new OutlierDetector(this.opts.outlier),
        gates: [
          { bulkhead: new Bulkhead(limits.maxConcurrentTurns, limits.maxQueuedTurns), owner: `agent ${name}` },
          { bulkhead: this.global, owner: "the orchestrator" },
        ],
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
      for (const id of this.agent(name).outliers.evaluate(ids, now)) this.changed("ejected", id, "ejected");
    }
  }

  /**
   * changed retires the picker of an instance whose health or ejection
   * changed, and tells of the change.
   */
  private changed(kind: MeshEvent["kind"], id: string, state: string): void {
    const s = this.states.get(id);
    if (s === undefined) return;
    this.pickers.delete(s.info.name);
    this.opts.onEvent?.({ kind, agent: s.info.name, instance: s.endpoint, state });
  }

  private breakerChanged(s: InstanceState, state: BreakerState): void {
    this.pickers.delete(s.info.name);
    this.opts.onEvent?.({ kind: "breaker", agent: s.info.name, instance: s.endpoint, state });
  }

  /**
   * probe checks one instance with the gRPC health protocol: the
   * AgentService's status, else the server's; an agent without a health
   * service counts as serving once it answers at all.
   */
  private async probe(id: string): Promise<HealthVerdict> {
    const s = this.states.get(id);
    if (s === undefined) return "not_serving";
    if (s.cardUrl !== undefined) return this.a2a.probe(s.cardUrl, this.opts.health.timeoutMs);
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
        if (err.code === Code.DeadlineExceeded) return "timed_out";
        if (isConnectionFailure(err) || err.code === Code.Unavailable) return "unreachable";
        return "not_serving";
      }
    }
    return "not_serving";
  }
}
