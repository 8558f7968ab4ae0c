import { defaultBreakerOptions } from "../mesh/breaker.js";
import { defaultHealthCheckOptions } from "../mesh/health-checker.js";
import { defaultMeshOptions, type MeshOptions } from "../mesh/mesh.js";
import type { StaticInstance } from "../mesh/registry.js";
import { defaultRetrySettings, maxAttemptsLimit } from "../mesh/retry.js";
import { loadAgentsFile } from "../server/agents-file.js";

/**
 * meshFlagOptions are the `serve` flags of the mesh and the registry, for
 * node:util parseArgs.
 */
export const meshFlagOptions = {
  "agents-file": { type: "string" },
  "registry-token": { type: "string" },
  "registry-refresh": { type: "string" },
  "breaker-failures": { type: "string" },
  "breaker-cooldown": { type: "string" },
  "retry-attempts": { type: "string" },
  "agent-max-turns": { type: "string" },
  "agent-max-queue": { type: "string" },
  "max-agent-calls": { type: "string" },
  "health-interval": { type: "string" },
  balancer: { type: "string" },
} as const;

/**
 * meshUsage documents the flags of meshFlagOptions for the help text.
 */
export const meshUsage = `  --agents-file PATH       static agents and limits (JSON or YAML)  SWITCHBOARD_AGENTS_FILE
  --registry-token TOKEN   token agents must send to register  SWITCHBOARD_REGISTRY_TOKEN  (none: open)
  --registry-refresh SECONDS  how stale a replica's view of the shared registry may get  SWITCHBOARD_REGISTRY_REFRESH 2
  --breaker-failures N     failures in a row that open an instance's breaker  SWITCHBOARD_BREAKER_FAILURES 5
  --breaker-cooldown SECONDS  how long an open breaker waits before a probe  SWITCHBOARD_BREAKER_COOLDOWN 10
  --retry-attempts N       attempts per agent call (stages may set their own)  SWITCHBOARD_RETRY_ATTEMPTS 2
  --agent-max-turns N      turns running at once per agent (bulkhead)  SWITCHBOARD_AGENT_MAX_TURNS 64
  --agent-max-queue N      turns waiting per agent for a slot  SWITCHBOARD_AGENT_MAX_QUEUE 64
  --max-agent-calls N      agent calls running at once, all agents  SWITCHBOARD_MAX_AGENT_CALLS 1024
  --health-interval SECONDS  how often agent instances are health-checked  SWITCHBOARD_HEALTH_INTERVAL 5
  --balancer NAME          p2c or least-outstanding  SWITCHBOARD_BALANCER p2c
`;

/**
 * MeshSettings are the mesh and registry settings after flags and environment.
 */
export interface MeshSettings {
  /** Static instances from the agents file. */
  instances: StaticInstance[];
  registryToken: string;
  registryRefreshMs: number;
  mesh: Partial<MeshOptions>;
}

type FlagValues = { [K in keyof typeof meshFlagOptions]?: string | undefined };

/**
 * meshSettings reads the mesh flags (flags win over the environment) and
 * the agents file; `fail` reports a usage error.
 */
export function meshSettings(values: FlagValues, env: NodeJS.ProcessEnv, fail: (message: string) => never): MeshSettings {
  const get = (flag: keyof typeof meshFlagOptions) => {
    const v = values[flag] ?? env[`SWITCHBOARD_${flag.toUpperCase().replaceAll("-", "_")}`];
    return v === "" ? undefined : v;
  };
  const seconds = (flag: keyof typeof meshFlagOptions, fallbackMs: number) => {
    const v = get(flag);
    if (v === undefined) return fallbackMs;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`--${flag}: ${JSON.stringify(v)} is not a positive number of seconds`);
    return Math.round(n * 1000);
  };
  const count = (flag: keyof typeof meshFlagOptions, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = get(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) fail(`--${flag}: ${JSON.stringify(v)} is not a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}`);
    return n;
  };
  const balancer = get("balancer") ?? "p2c";
  if (balancer !== "p2c" && balancer !== "least-outstanding") fail(`--balancer: ${JSON.stringify(balancer)} is not p2c or least-outstanding`);
  const file = get("agents-file");
  const agents = file === undefined ? { instances: [], limits: {} } : loadAgentsFile(file);
  const healthMs = seconds("health-interval", defaultHealthCheckOptions.intervalMs);
  return {
    instances: agents.instances,
    registryToken: get("registry-token") ?? "",
    registryRefreshMs: seconds("registry-refresh", 2000),
    mesh: {
      breaker: {
        failureThreshold: count("breaker-failures", defaultBreakerOptions.failureThreshold, 1),
        coolDownMs: seconds("breaker-cooldown", defaultBreakerOptions.coolDownMs),
      },
      retry: { ...defaultRetrySettings, maxAttempts: count("retry-attempts", defaultRetrySettings.maxAttempts, 1, maxAttemptsLimit) },
      agentLimits: {
        maxConcurrentTurns: count("agent-max-turns", defaultMeshOptions.agentLimits.maxConcurrentTurns, 1),
        maxQueuedTurns: count("agent-max-queue", defaultMeshOptions.agentLimits.maxQueuedTurns, 0),
      },
      limitsByAgent: agents.limits,
      maxConcurrentCalls: count("max-agent-calls", defaultMeshOptions.maxConcurrentCalls, 1),
      health: {
        ...defaultHealthCheckOptions,
        intervalMs: healthMs,
        timeoutMs: Math.min(defaultHealthCheckOptions.timeoutMs, healthMs),
        reconnectInitialMs: Math.min(defaultHealthCheckOptions.reconnectInitialMs, healthMs),
      },
      balancer,
    },
  };
}
