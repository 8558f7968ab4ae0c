import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * BreakerStateName is a circuit breaker's state as the metrics show it.
 */
export type BreakerStateName = "closed" | "half_open" | "open";

const breakerValue: Record<BreakerStateName, number> = { closed: 0, half_open: 1, open: 2 };

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const storeBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Metrics are the orchestrator's Prometheus metrics, in a registry of its
 * own. The mesh reports retries and breaker states through `retried` and
 * `breakerState`.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly turns: Counter<"flow" | "stage" | "status">;
  private readonly turnSeconds: Histogram<"flow" | "status">;
  private readonly agentSeconds: Histogram<"agent" | "outcome">;
  private readonly storeSeconds: Histogram<"operation" | "outcome">;
  private readonly streams: Gauge<"method">;
  private readonly retries: Counter<"agent">;
  private readonly breakers: Gauge<"agent" | "instance">;
  private readonly limits: Counter<"limit">;
  private readonly auth: Counter<"reason">;
  private readonly versionSessions: Counter<"flow" | "version">;
  private readonly versionTurns: Counter<"flow" | "version" | "status">;
  private readonly guardCuts: Counter<"flow" | "version">;
  private readonly rolloutWeights: Gauge<"flow" | "version">;
  private readonly outcomeRates: Gauge<"flow" | "version" | "outcome">;
  /** Where switchboard_turns_in_flight reads from when scraped. */
  private turnsInFlight: () => number = () => 0;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.turns = new Counter({
      name: "switchboard_turns_total",
      help: "Turns run, by flow, stage and status (ok, failed, replayed).",
      labelNames: ["flow", "stage", "status"],
      registers,
    });
    this.turnSeconds = new Histogram({
      name: "switchboard_turn_duration_seconds",
      help: "Time from a turn's arrival to its answer, by flow and status.",
      labelNames: ["flow", "status"],
      buckets: latencyBuckets,
      registers,
    });
    this.agentSeconds = new Histogram({
      name: "switchboard_agent_call_duration_seconds",
      help: "Agent call latency, by agent and outcome (ok or the gRPC code name).",
      labelNames: ["agent", "outcome"],
      buckets: latencyBuckets,
      registers,
    });
    this.storeSeconds = new Histogram({
      name: "switchboard_store_operation_duration_seconds",
      help: "Session store latency, by operation and outcome.",
      labelNames: ["operation", "outcome"],
      buckets: storeBuckets,
      registers,
    });
    this.streams = new Gauge({
      name: "switchboard_open_streams",
      help: "Calls in progress (unary calls until they answer, streams until they end), by method.",
      labelNames: ["method"],
      registers,
    });
    this.retries = new Counter({
      name: "switchboard_agent_retries_total",
      help: "Agent calls tried again after a failed attempt, by agent.",
      labelNames: ["agent"],
      registers,
    });
    this.breakers = new Gauge({
      name: "switchboard_breaker_state",
      help: "Circuit breaker state per agent instance: 0 closed, 1 half-open, 2 open.",
      labelNames: ["agent", "instance"],
      registers,
    });
    this.limits = new Counter({
      name: "switchboard_limit_rejections_total",
      help: "Requests refused by a limit, by limit.",
      labelNames: ["limit"],
      registers,
    });
    this.auth = new Counter({
      name: "switchboard_auth_failures_total",
      help: "Requests refused for a missing or invalid token.",
      labelNames: ["reason"],
      registers,
    });
    const inFlight = () => this.turnsInFlight();
    new Gauge({
      name: "switchboard_turns_in_flight",
      help: "Turns running on this replica now, all APIs: what an autoscaler scales replicas on.",
      registers,
      // Read when scraped: nothing on a turn's path.
      collect() {
        this.set(inFlight());
      },
    });
    this.versionSessions = new Counter({
      name: "switchboard_flow_version_sessions_total",
      help: "Sessions started, by flow and flow version.",
      labelNames: ["flow", "version"],
      registers,
    });
    this.versionTurns = new Counter({
      name: "switchboard_flow_version_turns_total",
      help: "Turns run, by flow, flow version and status (ok, failed, replayed, interrupted).",
      labelNames: ["flow", "version", "status"],
      registers,
    });
    this.guardCuts = new Counter({
      name: "switchboard_rollout_guard_cuts_total",
      help: "Flow versions a rollout guard cut to zero weight, by flow and version.",
      labelNames: ["flow", "version"],
      registers,
    });
    this.rolloutWeights = new Gauge({
      name: "switchboard_rollout_weight",
      help: "The share of new sessions (percent) this replica gives each version of a flow with a rollout.",
      labelNames: ["flow", "version"],
      registers,
    });
    this.outcomeRates = new Gauge({
      name: "switchboard_flow_version_outcome_rate",
      help: "Outcome rates per flow version as last computed from the stored sessions (hand_off, containment, failed_turns, barge_in), by flow, version and outcome.",
      labelNames: ["flow", "version", "outcome"],
      registers,
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "switchboard_" });
  }

  /** turnFinished records a finished turn. */
  turnFinished(flow: string, stage: string, status: string, seconds: number): void {
    this.turns.inc({ flow, stage, status });
    this.turnSeconds.observe({ flow, status }, seconds);
  }

  /** versionTurn counts a turn of a flow version, and the session it started. */
  versionTurn(flow: string, version: string, status: string, created: boolean): void {
    if (flow === "" || version === "") return;
    this.versionTurns.inc({ flow, version, status });
    if (created) this.versionSessions.inc({ flow, version });
  }

  /** guardCut counts a version a rollout guard cut to zero. */
  guardCut(flow: string, version: string): void {
    this.guardCuts.inc({ flow, version });
  }

  /** rolloutsServed sets the weights this replica assigns new sessions by, for every flow with a rollout. */
  rolloutsServed(rollouts: ReadonlyArray<{ flowId: string; weights: ReadonlyArray<{ version: string; weight: number }> }>): void {
    this.rolloutWeights.reset();
    for (const r of rollouts) for (const w of r.weights) this.rolloutWeights.set({ flow: r.flowId, version: w.version }, w.weight);
  }

  /** outcomeRate sets a flow version's last computed outcome rate. */
  outcomeRate(flow: string, version: string, outcome: string, value: number): void {
    this.outcomeRates.set({ flow, version, outcome }, value);
  }

  /** agentCall records one agent call; outcome is "ok" or a gRPC code name. */
  agentCall(agent: string, outcome: string, seconds: number): void {
    this.agentSeconds.observe({ agent, outcome }, seconds);
  }

  /** storeOperation records one session store call. */
  storeOperation(operation: string, outcome: string, seconds: number): void {
    this.storeSeconds.observe({ operation, outcome }, seconds);
  }

  /** streamOpened counts an open call; `streamClosed` uncounts it. */
  streamOpened(method: string): void {
    this.streams.inc({ method });
  }

  /** streamClosed uncounts a call `streamOpened` counted. */
  streamClosed(method: string): void {
    this.streams.dec({ method });
  }

  /** retried counts retries of calls to an agent. */
  retried(agent: string, times = 1): void {
    if (times > 0) this.retries.inc({ agent }, times);
  }

  /** breakerState sets the breaker state of one agent instance. */
  breakerState(agent: string, instance: string, state: BreakerStateName): void {
    this.breakers.set({ agent, instance }, breakerValue[state]);
  }

  /** breakerRemoved forgets an instance that left. */
  breakerRemoved(agent: string, instance: string): void {
    this.breakers.remove({ agent, instance });
  }

  /** limitRejected counts a request refused by a limit. */
  limitRejected(limit: string): void {
    this.limits.inc({ limit });
  }

  /** countTurnsInFlight names where switchboard_turns_in_flight reads the number of running turns. */
  countTurnsInFlight(count: () => number): void {
    this.turnsInFlight = count;
  }

  /** authFailed counts a request refused for its token. */
  authFailed(reason: string): void {
    this.auth.inc({ reason });
  }
}

/**
 * MetricsServer serves `GET /metrics` in the Prometheus text format on a
 * port of its own, in clear text and without authentication: keep it on an
 * address only the scraper reaches.
 */
export class MetricsServer {
  private readonly server: http.Server;

  constructor(metrics: Metrics, private readonly opts: { host: string; port: number }) {
    this.server = http.createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at GET /metrics\n");
        return;
      }
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(e)}\n`),
      );
    });
  }

  /** listen starts serving and returns the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** close stops serving. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
