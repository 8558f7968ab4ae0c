import { readFileSync } from "node:fs";
import { defaultHealthCheckOptions } from "../mesh/health-checker.js";
import type { MeshOptions } from "../mesh/mesh.js";
import type { StaticInstance } from "../mesh/registry.js";
import { defaultRetrySettings } from "../mesh/retry.js";
import { loadAgentsFile } from "../server/agents-file.js";
import { type AuthSettings, loadTokensFile } from "../server/auth.js";
import type { A2aSettings } from "../a2a/a2a-agents.js";
import type { OperabilityConfig } from "../server/operability.js";
import { Redactor, compilePatterns } from "../server/redaction.js";
import { advertisedUrl } from "../server/replica-peers.js";
import { UsageError } from "./command.js";
import type { ServeSettings } from "./serve-settings.js";

/**
 * ServeConfig is what `serve` needs, made from the settings.
 */
export interface ServeConfig {
  host: string;
  port: number;
  flowsDir: string;
  defaultFlow: string;
  /** The flows served as A2A agents, and the URL their cards name. */
  a2a: A2aSettings;
  /** Static agent instances: the settings' and the agents file's. */
  agents: StaticInstance[];
  sessionTtlMs: number;
  agentTimeoutMs: number;
  drainTimeoutMs: number;
  mongoUri: string;
  database: string;
  /** Where the other replicas reach this one; empty: the listen address. */
  advertise: string;
  replicaHeartbeatMs: number;
  logLevel: string;
  /** The wire stack of agent calls. */
  agentTransport: "stream" | "connect" | "grpc-js";
  mesh: Partial<MeshOptions>;
  registryToken: string;
  registryRefreshMs: number;
  /** How often a replica reads the rollouts again. */
  rolloutRefreshMs: number;
  /** How often a replica checks the rollouts' guards (0: never). */
  rolloutGuardIntervalMs: number;
  keepaliveMs: number;
  streamLimits: { streamBufferBytes: number; slowReaderMs: number; windowBytes: number };
  operability: OperabilityConfig;
  redactor: Redactor;
}

function file(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * serveConfig turns settings into the orchestrator's configuration,
 * reading the certificate, token, key and agents files they name.
 */
export function serveConfig(s: ServeSettings, env: NodeJS.ProcessEnv): ServeConfig {
  const operability: OperabilityConfig = {
    limits: {
      maxMessageBytes: s["limits.maxMessageBytes"],
      maxStreamsPerConnection: s["limits.maxStreamsPerConnection"],
      maxStreamsPerToken: s["limits.maxStreamsPerToken"],
      turnsPerSecond: s["limits.turnsPerSecond"],
      turnBurst: s["limits.turnBurst"],
      maxStateBytes: s["limits.maxStateBytes"],
      maxSessionVersions: s["limits.maxSessionVersions"],
      maxTurnsInFlight: s["limits.maxTurnsInFlight"],
      maxLoopDelayMs: s["limits.maxLoopDelayMs"],
    },
    agentKeepalive: {
      intervalMs: Math.round(s["mesh.agentKeepalive"] * 1000),
      timeoutMs: Math.round(s["mesh.agentKeepaliveTimeout"] * 1000),
    },
    ...(s.agentTransport === "connect" ? { agentStack: "connect" as const } : {}),
  };
  if (s["metrics.port"] !== undefined) operability.metricsListen = { host: s["metrics.host"], port: s["metrics.port"] };
  const tls = { cert: s["tls.cert"], key: s["tls.key"], clientCa: s["tls.clientCa"] };
  if (tls.cert !== "" || tls.key !== "") {
    if (tls.cert === "" || tls.key === "") throw new UsageError("--tls-cert and --tls-key go together");
    operability.tls = {
      cert: file(tls.cert, "--tls-cert"),
      key: file(tls.key, "--tls-key"),
      ...(tls.clientCa !== "" ? { clientCa: file(tls.clientCa, "--tls-client-ca") } : {}),
    };
  } else if (tls.clientCa !== "") {
    throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  const agentTls = { ca: s["agentTls.ca"], cert: s["agentTls.cert"], key: s["agentTls.key"] };
  if (agentTls.ca !== "" || agentTls.cert !== "" || agentTls.key !== "") {
    if ((agentTls.cert === "") !== (agentTls.key === "")) throw new UsageError("--agent-cert and --agent-key go together");
    operability.agentTls = {
      ...(agentTls.ca !== "" ? { ca: file(agentTls.ca, "--agent-ca") } : {}),
      ...(agentTls.cert !== "" ? { cert: file(agentTls.cert, "--agent-cert"), key: file(agentTls.key, "--agent-key") } : {}),
    };
  }
  const auth = authSettings(s, env);
  if (auth !== undefined) operability.auth = auth;
  let redactor: Redactor;
  try {
    const patterns = s["redaction.patterns"].map((p) => {
      if (typeof p !== "string") return p;
      const eq = p.indexOf("=");
      return eq > 0 ? { name: p.slice(0, eq), regex: p.slice(eq + 1) } : p;
    });
    redactor = new Redactor(compilePatterns(patterns), s["redaction.fields"], s["redaction.auditTrail"]);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  operability.redactor = redactor;
  const agentsFile = s.agentsFile === "" ? { instances: [], limits: {} } : loadAgentsFile(s.agentsFile);
  const healthMs = Math.round(s["mesh.healthInterval"] * 1000);
  return {
    host: s.host,
    port: s.port,
    flowsDir: s.flows,
    defaultFlow: s.defaultFlow,
    a2a: a2aSettings(s["a2a.flows"], s["a2a.url"]),
    agents: [...s.agents, ...agentsFile.instances],
    sessionTtlMs: s.sessionTtl * 1000,
    agentTimeoutMs: s.agentTimeout * 1000,
    drainTimeoutMs: s.drainTimeout * 1000,
    mongoUri: s.mongodbUri,
    database: s.db,
    advertise: checkedAdvertise(s["replicas.advertise"], s.host),
    replicaHeartbeatMs: Math.round(s["replicas.heartbeat"] * 1000),
    logLevel: s.logLevel,
    agentTransport: s.agentTransport,
    operability,
    redactor,
    mesh: {
      breaker: {
        failureThreshold: s["mesh.breakerFailures"],
        coolDownMs: Math.round(s["mesh.breakerCooldown"] * 1000),
      },
      retry: { ...defaultRetrySettings, maxAttempts: s["mesh.retryAttempts"] },
      agentLimits: { maxConcurrentTurns: s["mesh.agentMaxTurns"], maxQueuedTurns: s["mesh.agentMaxQueue"] },
      limitsByAgent: agentsFile.limits,
      maxConcurrentCalls: s["mesh.maxAgentCalls"],
      health: {
        ...defaultHealthCheckOptions,
        intervalMs: healthMs,
        timeoutMs: Math.min(defaultHealthCheckOptions.timeoutMs, healthMs),
        reconnectInitialMs: Math.min(defaultHealthCheckOptions.reconnectInitialMs, healthMs),
      },
      balancer: s["mesh.balancer"],
    },
    registryToken: s["registry.token"],
    registryRefreshMs: Math.round(s["registry.refresh"] * 1000),
    rolloutRefreshMs: Math.round(s["rollouts.refresh"] * 1000),
    rolloutGuardIntervalMs: Math.round(s["rollouts.guardInterval"] * 1000),
    keepaliveMs: s["streams.keepalive"] * 1000,
    streamLimits: {
      streamBufferBytes: Math.max(1, s["streams.buffer"]) * 1024,
      slowReaderMs: s["streams.slowReader"] * 1000,
      windowBytes: Math.max(1, s["streams.replayWindow"]) * 1024,
    },
  };
}

/**
 * checkedAdvertise refuses an advertised address that is not one, at
 * start rather than at the first heartbeat.
 */
function checkedAdvertise(advertise: string, host: string): string {
  try {
    advertisedUrl(advertise, host, 1, false);
  } catch (e) {
    throw new UsageError(`--advertise-address: ${e instanceof Error ? e.message : String(e)}`);
  }
  return advertise;
}

function authSettings(s: ServeSettings, env: NodeJS.ProcessEnv): AuthSettings | undefined {
  const tokensFile = s["auth.tokensFile"];
  const secretFile = s["auth.jwtSecretFile"];
  const secretEnv = env["SWITCHBOARD_JWT_SECRET"] ?? "";
  const jwksFile = s["auth.jwksFile"];
  if (tokensFile === "" && secretFile === "" && secretEnv === "" && jwksFile === "") return undefined;
  let tokens: AuthSettings["tokens"] = [];
  try {
    if (tokensFile !== "") tokens = loadTokensFile(tokensFile);
  } catch (e) {
    throw new UsageError(`--auth-tokens: ${e instanceof Error ? e.message : String(e)}`);
  }
  const secret = secretFile !== "" ? file(secretFile, "--jwt-secret-file").trim() : secretEnv;
  if (secret !== "" && secret.length < 32) throw new UsageError("the JWT secret must be at least 32 characters");
  if (secret !== "" && jwksFile !== "") throw new UsageError("set a JWT secret or a JWKS file, not both");
  let jwt: AuthSettings["jwt"];
  if (secret !== "" || jwksFile !== "") {
    let jwks;
    if (jwksFile !== "") {
      try {
        jwks = JSON.parse(file(jwksFile, "--jwks")) as { keys: unknown };
      } catch (e) {
        throw new UsageError(`--jwks ${jwksFile}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!Array.isArray(jwks.keys)) throw new UsageError(`--jwks ${jwksFile}: not a JWKS (no "keys" list)`);
    }
    jwt = {
      tenantClaim: s["auth.tenantClaim"] || "tenant",
      ...(secret !== "" ? { secret: new TextEncoder().encode(secret) } : {}),
      ...(jwks !== undefined ? { jwks: jwks as never } : {}),
      ...(s["auth.jwtIssuer"] !== "" ? { issuer: s["auth.jwtIssuer"] } : {}),
      ...(s["auth.jwtAudience"] !== "" ? { audience: s["auth.jwtAudience"] } : {}),
    };
  }
  const publicList = s["auth.public"];
  return {
    tokens,
    ...(jwt !== undefined ? { jwt } : {}),
    publicMethods: publicList.length === 1 && publicList[0] === "none" ? [] : publicList,
  };
}

/**
 * a2aSettings reads the A2A settings: no flows listed serves every flow,
 * "none" serves none.
 */
function a2aSettings(flows: string[], url: string): A2aSettings {
  if (url !== "") {
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--a2a-url: ${JSON.stringify(url)} is not a URL; give one like https://switchboard.example.com`);
    }
  }
  return {
    ...(flows.length === 0 ? {} : { flows: flows.length === 1 && flows[0] === "none" ? [] : flows }),
    ...(url !== "" ? { publicUrl: url } : {}),
  };
}
