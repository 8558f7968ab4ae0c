import { type BreakerOptions, type BreakerState, defaultBreakerOptions } from "./breaker.js";
import { grpcTransport, type TransportFactory } from "./connection-pool.js";
import { defaultHealthCheckOptions, type HealthCheckOptions, type InstanceHealthState } from "./health-checker.js";
import type { LoopDelay } from "./loop-delay.js";
import { defaultOutlierOptions, type OutlierOptions } from "./outlier-detector.js";
import { defaultRetrySettings, type RetrySettings } from "./retry.js";
import type { RetryBudgetOptions } from "./retry-budget.js";

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
  /**
   * How late this process's event loop runs, for judging timeouts of health
   * checks and calls; the process's shared monitor when unset.
   */
  loopDelay?: LoopDelay;
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
