import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { defaultBreakerOptions } from "../mesh/breaker.js";
import { defaultHealthCheckOptions } from "../mesh/health-checker.js";
import { defaultKeepaliveOptions } from "../mesh/keepalive.js";
import { defaultMeshOptions } from "../mesh/mesh.js";
import { defaultRetrySettings, maxAttemptsLimit } from "../mesh/retry.js";
import { packageDir } from "../package-dir.js";
import { defaultPublicMethods } from "../server/auth.js";
import { defaultLimits } from "../server/limits.js";
import type { RedactionSettings } from "../server/redaction.js";
import { UsageError } from "./command.js";

const defaultFlowsDir = join(packageDir, "flows");

/**
 * StaticAgent is an agent instance named in the settings: NAME=URL, or
 * `{ name, url }` in a config file.
 */
export interface StaticAgent {
  name: string;
  endpoint: string;
}

/**
 * KindValues maps each kind of setting to the type of its value.
 */
interface KindValues {
  string: string;
  /** One of the option's `choices`. */
  choice: string;
  port: number;
  /** A whole number from `min` (0 unless given) to `max`. */
  int: number;
  /** A number of 0 or more. */
  number: number;
  /** A positive number of seconds. */
  seconds: number;
  bool: boolean;
  list: string[];
  agents: StaticAgent[];
  patterns: RedactionSettings["patterns"];
}

type Kind = keyof KindValues;

/**
 * Option is one setting of `switchboard serve`: its key in the config
 * file, its flag, its environment variable, its default and what it means.
 */
export interface Option {
  /** The dotted key in the config file, e.g. "limits.maxMessageBytes". */
  key: string;
  flag: string;
  env: string;
  kind: Kind;
  default: string | number | boolean | readonly string[] | undefined;
  /** How the default reads in help and docs when it is not the value itself. */
  shown?: string;
  /** The value's placeholder in help when it is not the kind's. */
  arg?: string;
  /** The values a "choice" takes. */
  choices?: readonly string[];
  /** The least and the most an "int" takes. */
  min?: number;
  max?: number;
  help: string;
}

/**
 * serveOptions are every setting of `switchboard serve`. Flags win over
 * environment variables, which win over the config file, which wins over
 * the defaults.
 */
export const serveOptions = [
  { key: "host", flag: "host", env: "SWITCHBOARD_HOST", kind: "string", default: "127.0.0.1", help: "listen address" },
  { key: "port", flag: "port", env: "SWITCHBOARD_PORT", kind: "port", default: 50051, help: "listen port; 0 picks a free one" },
  { key: "flows", flag: "flows", env: "SWITCHBOARD_FLOWS", kind: "string", default: defaultFlowsDir, shown: "./flows", help: "directory of flow files (*.yaml, *.yml, *.json); SIGHUP reloads it" },
  { key: "defaultFlow", flag: "default-flow", env: "SWITCHBOARD_DEFAULT_FLOW", kind: "string", default: "assistant", help: "flow of sessions whose first turn names none" },
  { key: "a2a.flows", flag: "a2a-flow", env: "SWITCHBOARD_A2A_FLOWS", kind: "list", default: [], shown: "every flow", help: "a flow served as an Agent2Agent agent (docs/a2a.md); repeatable; \"none\" for none" },
  { key: "a2a.url", flag: "a2a-url", env: "SWITCHBOARD_A2A_URL", kind: "string", default: "", shown: "the request's scheme and host", help: "the URL A2A clients reach this server by (e.g. behind a proxy), for the agent cards' interfaces" },
  { key: "agents", flag: "agent", env: "SWITCHBOARD_AGENTS", kind: "agents", default: [], shown: "none", help: "a static agent instance NAME=URL (an A2A agent: NAME=a2a:CARD-URL); repeatable (env: comma-separated)" },
  { key: "sessionTtl", flag: "session-ttl", env: "SWITCHBOARD_SESSION_TTL", kind: "seconds", default: 3600, help: "seconds a session may sit idle before it expires" },
  { key: "agentTimeout", flag: "agent-timeout", env: "SWITCHBOARD_AGENT_TIMEOUT", kind: "seconds", default: 30, help: "seconds an agent has per turn, unless the stage or the caller's deadline says less" },
  { key: "drainTimeout", flag: "drain-timeout", env: "SWITCHBOARD_DRAIN_TIMEOUT", kind: "seconds", default: 30, help: "seconds SIGTERM waits for running turns" },
  { key: "agentTransport", flag: "agent-transport", env: "SWITCHBOARD_AGENT_TRANSPORT", kind: "choice", choices: ["stream", "connect", "grpc-js"], default: "stream", help: "wire stack of agent calls: stream (gRPC framed on Node's HTTP/2 stream API behind Connect's client API), connect (Connect's own gRPC transport) or grpc-js (a Connect transport over a grpc-js channel; clear text only); see bench/README.md" },
  { key: "agentsFile", flag: "agents-file", env: "SWITCHBOARD_AGENTS_FILE", kind: "string", default: "", shown: "none", help: "static agents and per-agent limits (JSON or YAML)" },
  { key: "registry.token", flag: "registry-token", env: "SWITCHBOARD_REGISTRY_TOKEN", kind: "string", default: "", shown: "none: open", help: "token agents must send to register" },
  { key: "registry.refresh", flag: "registry-refresh", env: "SWITCHBOARD_REGISTRY_REFRESH", kind: "seconds", arg: "X", default: 2, help: "seconds: how stale a replica's view of the shared registry may get" },
  { key: "rollouts.refresh", flag: "rollout-refresh", env: "SWITCHBOARD_ROLLOUT_REFRESH", kind: "seconds", arg: "X", default: 2, help: "seconds: how soon a replica assigns new sessions by a rollout changed on another replica" },
  { key: "rollouts.guardInterval", flag: "rollout-guard-interval", env: "SWITCHBOARD_ROLLOUT_GUARD_INTERVAL", kind: "seconds", arg: "X", default: 30, help: "seconds between checks of the rollouts' guards on the stored sessions (0: never)" },
  { key: "mesh.breakerFailures", flag: "breaker-failures", env: "SWITCHBOARD_BREAKER_FAILURES", kind: "int", min: 1, arg: "X", default: defaultBreakerOptions.failureThreshold, help: "failures in a row that open an instance's breaker" },
  { key: "mesh.breakerCooldown", flag: "breaker-cooldown", env: "SWITCHBOARD_BREAKER_COOLDOWN", kind: "seconds", arg: "X", default: defaultBreakerOptions.coolDownMs / 1000, help: "seconds an open breaker waits before a probe" },
  { key: "mesh.retryAttempts", flag: "retry-attempts", env: "SWITCHBOARD_RETRY_ATTEMPTS", kind: "int", min: 1, max: maxAttemptsLimit, arg: "X", default: defaultRetrySettings.maxAttempts, help: "attempts per agent call (stages may set their own)" },
  { key: "mesh.agentMaxTurns", flag: "agent-max-turns", env: "SWITCHBOARD_AGENT_MAX_TURNS", kind: "int", min: 1, arg: "X", default: defaultMeshOptions.agentLimits.maxConcurrentTurns, help: "turns running at once per agent (bulkhead)" },
  { key: "mesh.agentMaxQueue", flag: "agent-max-queue", env: "SWITCHBOARD_AGENT_MAX_QUEUE", kind: "int", arg: "X", default: defaultMeshOptions.agentLimits.maxQueuedTurns, help: "turns waiting per agent for a slot" },
  { key: "mesh.maxAgentCalls", flag: "max-agent-calls", env: "SWITCHBOARD_MAX_AGENT_CALLS", kind: "int", min: 1, arg: "X", default: defaultMeshOptions.maxConcurrentCalls, help: "agent calls running at once, all agents" },
  { key: "mesh.healthInterval", flag: "health-interval", env: "SWITCHBOARD_HEALTH_INTERVAL", kind: "seconds", arg: "X", default: defaultHealthCheckOptions.intervalMs / 1000, help: "seconds between health checks of agent instances" },
  { key: "mesh.agentKeepalive", flag: "agent-keepalive", env: "SWITCHBOARD_AGENT_KEEPALIVE", kind: "seconds", arg: "X", default: defaultKeepaliveOptions.intervalMs / 1000, help: "seconds a connection to an agent may be quiet while turns run on it before it is pinged" },
  { key: "mesh.agentKeepaliveTimeout", flag: "agent-keepalive-timeout", env: "SWITCHBOARD_AGENT_KEEPALIVE_TIMEOUT", kind: "seconds", arg: "X", default: defaultKeepaliveOptions.timeoutMs / 1000, help: "seconds a ping to an agent may go unanswered, while the orchestrator's own event loop runs on time, before its connection is given up" },
  { key: "mesh.balancer", flag: "balancer", env: "SWITCHBOARD_BALANCER", kind: "choice", choices: ["p2c", "least-outstanding"], default: "p2c", help: "p2c or least-outstanding" },
  { key: "streams.keepalive", flag: "keepalive", env: "SWITCHBOARD_KEEPALIVE", kind: "number", default: 30, help: "seconds between HTTP/2 pings on every connection (0: off)" },
  { key: "streams.buffer", flag: "stream-buffer", env: "SWITCHBOARD_STREAM_BUFFER", kind: "int", default: 1024, help: "KiB of unread events a stream may hold before it is paced or failed" },
  { key: "streams.slowReader", flag: "slow-reader", env: "SWITCHBOARD_SLOW_READER", kind: "seconds", default: 10, help: "seconds a full Converse stream may hold up the agent's output before RESOURCE_EXHAUSTED" },
  { key: "streams.replayWindow", flag: "replay-window", env: "SWITCHBOARD_REPLAY_WINDOW", kind: "int", default: 256, help: "KiB of recent events kept per session for exact resume" },
  { key: "mongodbUri", flag: "mongodb-uri", env: "MONGODB_URI", kind: "string", default: "", shown: "none: the embedded store", help: "keep sessions in MongoDB" },
  { key: "db", flag: "db", env: "SWITCHBOARD_DB", kind: "string", default: "", shown: "the URI's, else switchboard", help: "MongoDB database" },
  { key: "replicas.advertise", flag: "advertise-address", env: "SWITCHBOARD_ADVERTISE_ADDRESS", kind: "string", default: "", shown: "the listen address, unless a wildcard", help: "where the other replicas on the same MongoDB reach this one (a URL, host:port or host), so that WatchSession on any replica shows the turns this one runs" },
  { key: "replicas.heartbeat", flag: "replica-heartbeat", env: "SWITCHBOARD_REPLICA_HEARTBEAT", kind: "seconds", arg: "X", default: 2, help: "seconds between a replica's renewals of its entry in the replica directory (it drops out after three missed)" },
  { key: "logLevel", flag: "log-level", env: "SWITCHBOARD_LOG_LEVEL", kind: "string", default: "info", help: "trace, debug, info, warn or error" },
  { key: "metrics.host", flag: "metrics-host", env: "SWITCHBOARD_METRICS_HOST", kind: "string", default: "127.0.0.1", help: "address of the metrics endpoint" },
  { key: "metrics.port", flag: "metrics-port", env: "SWITCHBOARD_METRICS_PORT", kind: "port", default: undefined, shown: "off", help: "serve Prometheus metrics at GET /metrics on this port (0: a free one)" },
  { key: "tls.cert", flag: "tls-cert", env: "SWITCHBOARD_TLS_CERT", kind: "string", default: "", shown: "none: clear text", help: "PEM certificate file: serve TLS (with --tls-key)" },
  { key: "tls.key", flag: "tls-key", env: "SWITCHBOARD_TLS_KEY", kind: "string", default: "", shown: "none", help: "PEM private key file of --tls-cert" },
  { key: "tls.clientCa", flag: "tls-client-ca", env: "SWITCHBOARD_TLS_CLIENT_CA", kind: "string", default: "", shown: "none", help: "PEM CA file: require client certificates it signed" },
  { key: "agentTls.ca", flag: "agent-ca", env: "SWITCHBOARD_AGENT_CA", kind: "string", default: "", shown: "system CAs", help: "PEM CA file that https:// agents' certificates chain to" },
  { key: "agentTls.cert", flag: "agent-cert", env: "SWITCHBOARD_AGENT_CERT", kind: "string", default: "", shown: "none", help: "PEM client certificate file shown to agents (mutual TLS)" },
  { key: "agentTls.key", flag: "agent-key", env: "SWITCHBOARD_AGENT_KEY", kind: "string", default: "", shown: "none", help: "PEM private key file of --agent-cert" },
  { key: "auth.tokensFile", flag: "auth-tokens", env: "SWITCHBOARD_AUTH_TOKENS", kind: "string", default: "", shown: "none", help: "YAML/JSON file of client tokens and their tenants; turns authentication on" },
  { key: "auth.jwtSecretFile", flag: "jwt-secret-file", env: "SWITCHBOARD_JWT_SECRET_FILE", kind: "string", default: "", shown: "none", help: "file holding the HS256 secret of client JWTs (or the secret itself in SWITCHBOARD_JWT_SECRET); turns authentication on" },
  { key: "auth.jwksFile", flag: "jwks", env: "SWITCHBOARD_JWKS", kind: "string", default: "", shown: "none", help: "JWKS file with the public keys of client JWTs; turns authentication on" },
  { key: "auth.jwtIssuer", flag: "jwt-issuer", env: "SWITCHBOARD_JWT_ISSUER", kind: "string", default: "", shown: "any", help: "required iss claim of JWTs" },
  { key: "auth.jwtAudience", flag: "jwt-audience", env: "SWITCHBOARD_JWT_AUDIENCE", kind: "string", default: "", shown: "any", help: "required aud claim of JWTs" },
  { key: "auth.tenantClaim", flag: "tenant-claim", env: "SWITCHBOARD_TENANT_CLAIM", kind: "string", default: "tenant", help: "JWT claim naming the tenant" },
  { key: "auth.public", flag: "public", env: "SWITCHBOARD_PUBLIC", kind: "list", default: defaultPublicMethods, shown: "health, reflection, agent registration", help: "services or methods reachable without a token; repeatable; \"none\" for none" },
  { key: "limits.maxMessageBytes", flag: "max-message-bytes", env: "SWITCHBOARD_MAX_MESSAGE_BYTES", kind: "int", min: 1024, default: defaultLimits.maxMessageBytes, help: "largest request message (RESOURCE_EXHAUSTED above)" },
  { key: "limits.maxStreamsPerConnection", flag: "max-streams-per-connection", env: "SWITCHBOARD_MAX_STREAMS_PER_CONNECTION", kind: "int", min: 1, default: defaultLimits.maxStreamsPerConnection, help: "concurrent HTTP/2 streams per connection" },
  { key: "limits.maxStreamsPerToken", flag: "max-streams-per-token", env: "SWITCHBOARD_MAX_STREAMS_PER_TOKEN", kind: "int", default: defaultLimits.maxStreamsPerToken, help: "concurrent calls per token (per client address without auth); 0: no limit" },
  { key: "limits.turnsPerSecond", flag: "turns-per-second", env: "SWITCHBOARD_TURNS_PER_SECOND", kind: "number", default: defaultLimits.turnsPerSecond, shown: "0: no limit", help: "sustained turns per second per token" },
  { key: "limits.turnBurst", flag: "turn-burst", env: "SWITCHBOARD_TURN_BURST", kind: "int", default: defaultLimits.turnBurst, shown: "the rate, rounded up", help: "turns a token may start at once above the rate" },
  { key: "limits.maxStateBytes", flag: "max-state-bytes", env: "SWITCHBOARD_MAX_STATE_BYTES", kind: "int", default: defaultLimits.maxStateBytes, help: "largest session state (JSON bytes)" },
  { key: "limits.maxSessionVersions", flag: "max-session-versions", env: "SWITCHBOARD_MAX_SESSION_VERSIONS", kind: "int", min: 1, default: defaultLimits.maxSessionVersions, help: "most versions (turns, rollbacks) per session" },
  { key: "limits.maxTurnsInFlight", flag: "max-turns-in-flight", env: "SWITCHBOARD_MAX_TURNS_IN_FLIGHT", kind: "int", default: defaultLimits.maxTurnsInFlight, help: "turns running at once on this replica, all APIs; new turns above it get RESOURCE_EXHAUSTED with a retry hint; 0: no limit" },
  { key: "limits.maxLoopDelayMs", flag: "max-loop-delay-ms", env: "SWITCHBOARD_MAX_LOOP_DELAY_MS", kind: "int", default: defaultLimits.maxLoopDelayMs, shown: "0: no limit", help: "refuse new turns (RESOURCE_EXHAUSTED, with a retry hint) while the event loop runs this many ms late" },
  { key: "redaction.patterns", flag: "redact", env: "SWITCHBOARD_REDACT", kind: "patterns", default: [], shown: "none", help: "redact matches in logs: a preset (card, email) or NAME=REGEX; repeatable" },
  { key: "redaction.fields", flag: "redact-field", env: "SWITCHBOARD_REDACT_FIELDS", kind: "list", default: [], shown: "none", help: "keys whose values are always redacted (e.g. accountId); repeatable" },
  { key: "redaction.auditTrail", flag: "redact-audit", env: "SWITCHBOARD_REDACT_AUDIT", kind: "bool", default: false, help: "redact the stored audit trail and transcript too" },
] as const satisfies readonly Option[];

type ServeOption = (typeof serveOptions)[number];

type ValueOf<O extends ServeOption> = O extends { choices: readonly (infer C)[] } ? C : KindValues[O["kind"]];

/**
 * ServeSettings are the settings after file, environment and flags, by
 * key, each of the type its option's kind says; a setting without a
 * default is undefined when not given.
 */
export type ServeSettings = {
  -readonly [O in ServeOption as O["key"]]: O["default"] extends undefined ? ValueOf<O> | undefined : ValueOf<O>;
};

/**
 * serveUsage renders the options for `--help`.
 */
export function serveUsage(command: "serve" | "demo"): string {
  const rows = serveOptions.map((o: Option) => {
    const arg = o.arg !== undefined ? ` ${o.arg}` : o.kind === "bool" ? "" : o.kind === "seconds" ? " SECONDS" : o.kind === "port" || o.kind === "int" || o.kind === "number" ? " N" : " X";
    const def = o.shown ?? (Array.isArray(o.default) ? o.default.join(",") : String(o.default));
    return `  --${o.flag}${arg}`.padEnd(34) + `${o.help}\n${"".padEnd(34)}env ${o.env}; file ${o.key}; default ${def}`;
  });
  return `switchboard ${command}: ${command === "serve" ? "run the orchestrator" : "run the orchestrator with the sample echo agent"}

Usage:
  switchboard ${command} [--config FILE] [options]

Settings come from the flags, else the environment, else the config file
(YAML or JSON, keys as shown below: "limits.maxStateBytes" is
limits: { maxStateBytes: ... }), else the defaults.

  --config FILE                   YAML or JSON config file   env SWITCHBOARD_CONFIG
${rows.join("\n")}
  --help                          show this help
`;
}

function get(doc: Record<string, unknown>, key: string): unknown {
  let v: unknown = doc;
  for (const part of key.split(".")) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const knownFileKeys = new Set<string>(serveOptions.map((o) => o.key));

function checkFileKeys(doc: Record<string, unknown>, source: string, prefix = ""): void {
  for (const [k, v] of Object.entries(doc)) {
    const key = prefix + k;
    if (knownFileKeys.has(key)) continue;
    if (typeof v === "object" && v !== null && !Array.isArray(v) && [...knownFileKeys].some((x) => x.startsWith(`${key}.`))) {
      checkFileKeys(v as Record<string, unknown>, source, `${key}.`);
      continue;
    }
    throw new UsageError(`${source}: unknown setting ${JSON.stringify(key)}; see switchboard serve --help`);
  }
}

/**
 * validateSetting checks one raw value (a flag's or a variable's text, or
 * whatever the config file holds) against its option and returns it as
 * the option's kind says; `from` names where it came from.
 */
function validateSetting(o: Option, raw: unknown, from: string): KindValues[Kind] {
  const bad = (what: string) => new UsageError(`${from}: ${JSON.stringify(raw)} is not ${what}`);
  // A list is given once per flag, comma-separated in a variable, or as a list in the file.
  const items = (): unknown[] => {
    if (Array.isArray(raw)) return raw;
    if (typeof raw === "string") return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    throw bad("a list");
  };
  switch (o.kind) {
    case "string":
      if (typeof raw !== "string") throw bad("a string");
      return raw;
    case "choice":
      if (typeof raw !== "string" || !o.choices?.includes(raw)) throw bad(`one of ${o.choices?.join(", ")}`);
      return raw;
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1" || raw === "") return true;
      if (raw === "false" || raw === "0") return false;
      throw bad("true or false");
    case "list":
      return items().map((item) => {
        if (typeof item !== "string") throw bad("a list of strings");
        return item;
      });
    case "agents":
      return items().map((spec) => staticAgent(spec, from));
    case "patterns":
      return items().map((p) => {
        if (typeof p === "string") return p;
        const { name, regex } = (typeof p === "object" && p !== null ? p : {}) as Record<string, unknown>;
        if (typeof name === "string" && typeof regex === "string") return { name, regex };
        throw new UsageError(`${from}: ${JSON.stringify(p)} is not a preset, NAME=REGEX or { name, regex }`);
      });
    default: {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (o.kind === "port" && (!Number.isInteger(n) || n < 0 || n > 65535)) throw bad("a port number");
      if (o.kind === "int") {
        const min = o.min ?? 0;
        const max = o.max ?? Number.MAX_SAFE_INTEGER;
        if (!Number.isInteger(n) || n < min || n > max) throw bad(`a whole number ${o.max === undefined ? `of ${min} or more` : `from ${min} to ${max}`}`);
      }
      if (o.kind === "number" && (!Number.isFinite(n) || n < 0)) throw bad("a number of 0 or more");
      if (o.kind === "seconds" && (!Number.isFinite(n) || n <= 0)) throw bad("a positive number of seconds");
      return n;
    }
  }
}

/**
 * staticAgent reads one static agent instance, NAME=URL or { name, url },
 * naming where it came from when it is neither.
 */
export function staticAgent(spec: unknown, from: string): StaticAgent {
  if (typeof spec === "object" && spec !== null) {
    const { name, url, endpoint = url } = spec as Record<string, unknown>;
    if (typeof name === "string" && name !== "" && typeof endpoint === "string" && /^(a2a:)?https?:\/\/.+/.test(endpoint)) return { name, endpoint };
    throw new UsageError(`${from}: ${JSON.stringify(spec)} is not { name, url }`);
  }
  const text = String(spec);
  const eq = text.indexOf("=");
  const endpoint = text.slice(eq + 1);
  if (eq <= 0 || !/^(a2a:)?https?:\/\/.+/.test(endpoint)) {
    throw new UsageError(`${from}: ${JSON.stringify(text)} is not NAME=URL (e.g. echo=http://127.0.0.1:7001, or weather=a2a:URL-of-an-A2A-agent-card)`);
  }
  return { name: text.slice(0, eq), endpoint };
}

/**
 * loadServeSettings reads the settings of `switchboard serve` from flags,
 * environment and config file, checking each and naming where a bad one
 * came from. The result is trusted from here on.
 */
export function loadServeSettings(argv: string[], env: NodeJS.ProcessEnv): { settings: ServeSettings; help: boolean } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  };
  const repeatable = new Set<Kind>(["list", "agents", "patterns"]);
  for (const o of serveOptions) options[o.flag] = { type: o.kind === "bool" ? "boolean" : "string", ...(repeatable.has(o.kind) ? { multiple: true } : {}) };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const configFile = (values["config"] as string | undefined) ?? env["SWITCHBOARD_CONFIG"] ?? "";
  let doc: Record<string, unknown> = {};
  if (configFile !== "") {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(configFile, "utf8"));
    } catch (e) {
      throw new UsageError(`--config ${configFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`--config ${configFile}: expected a mapping of settings`);
      doc = parsed as Record<string, unknown>;
      checkFileKeys(doc, configFile);
    }
  }
  const settings: Record<string, KindValues[Kind] | readonly string[] | undefined> = {};
  for (const o of serveOptions as readonly Option[]) {
    const flag = values[o.flag];
    const fromEnv = env[o.env];
    const fromFile = get(doc, o.key);
    if (flag !== undefined) settings[o.key] = validateSetting(o, flag, `--${o.flag}`);
    else if (fromEnv !== undefined && fromEnv !== "") settings[o.key] = validateSetting(o, fromEnv, o.env);
    else if (fromFile !== undefined && fromFile !== null) settings[o.key] = validateSetting(o, fromFile, `${configFile}: ${o.key}`);
    else settings[o.key] = o.default;
  }
  // Every key was set above from its option, checked against its kind.
  return { settings: settings as ServeSettings, help: values["help"] === true };
}
