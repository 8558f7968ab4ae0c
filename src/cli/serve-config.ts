import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { type AuthSettings, defaultPublicMethods, loadTokensFile } from "../server/auth.js";
import { defaultLimits, type Limits } from "../server/limits.js";
import type { OperabilityConfig } from "../server/operability.js";
import { Redactor, compilePatterns } from "../server/redaction.js";
import { UsageError } from "./command.js";
import { type MeshSettings, meshSettings } from "./mesh-flags.js";

const defaultFlowsDir = fileURLToPath(new URL("../../flows", import.meta.url));

type Kind = "string" | "port" | "int" | "number" | "seconds" | "bool" | "list";

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
  default: string | number | boolean | string[] | undefined;
  /** How the default reads in help and docs when it is not the value itself. */
  shown?: string;
  help: string;
}

/**
 * serveOptions are every setting of `switchboard serve`. Flags win over
 * environment variables, which win over the config file, which wins over
 * the defaults.
 */
export const serveOptions: Option[] = [
  { key: "host", flag: "host", env: "SWITCHBOARD_HOST", kind: "string", default: "127.0.0.1", help: "listen address" },
  { key: "port", flag: "port", env: "SWITCHBOARD_PORT", kind: "port", default: 50051, help: "listen port; 0 picks a free one" },
  { key: "flows", flag: "flows", env: "SWITCHBOARD_FLOWS", kind: "string", default: defaultFlowsDir, shown: "./flows", help: "directory of flow files (*.yaml, *.yml, *.json); SIGHUP reloads it" },
  { key: "defaultFlow", flag: "default-flow", env: "SWITCHBOARD_DEFAULT_FLOW", kind: "string", default: "assistant", help: "flow of sessions whose first turn names none" },
  { key: "agents", flag: "agent", env: "SWITCHBOARD_AGENTS", kind: "list", default: [], shown: "none", help: "a static agent instance NAME=URL; repeatable (env: comma-separated)" },
  { key: "sessionTtl", flag: "session-ttl", env: "SWITCHBOARD_SESSION_TTL", kind: "seconds", default: 3600, help: "seconds a session may sit idle before it expires" },
  { key: "agentTimeout", flag: "agent-timeout", env: "SWITCHBOARD_AGENT_TIMEOUT", kind: "seconds", default: 30, help: "seconds an agent has per turn, unless the stage or the caller's deadline says less" },
  { key: "drainTimeout", flag: "drain-timeout", env: "SWITCHBOARD_DRAIN_TIMEOUT", kind: "seconds", default: 30, help: "seconds SIGTERM waits for running turns" },
  { key: "agentTransport", flag: "agent-transport", env: "SWITCHBOARD_AGENT_TRANSPORT", kind: "string", default: "connect", help: "wire stack of agent calls: connect (Connect's gRPC transport) or grpc-js (a Connect transport over a grpc-js channel; clear text only); see bench/README.md" },
  { key: "agentsFile", flag: "agents-file", env: "SWITCHBOARD_AGENTS_FILE", kind: "string", default: "", shown: "none", help: "static agents and per-agent limits (JSON or YAML)" },
  { key: "registry.token", flag: "registry-token", env: "SWITCHBOARD_REGISTRY_TOKEN", kind: "string", default: "", shown: "none: open", help: "token agents must send to register" },
  { key: "registry.refresh", flag: "registry-refresh", env: "SWITCHBOARD_REGISTRY_REFRESH", kind: "string", default: "", shown: "2", help: "seconds: how stale a replica's view of the shared registry may get" },
  { key: "mesh.breakerFailures", flag: "breaker-failures", env: "SWITCHBOARD_BREAKER_FAILURES", kind: "string", default: "", shown: "5", help: "failures in a row that open an instance's breaker" },
  { key: "mesh.breakerCooldown", flag: "breaker-cooldown", env: "SWITCHBOARD_BREAKER_COOLDOWN", kind: "string", default: "", shown: "10", help: "seconds an open breaker waits before a probe" },
  { key: "mesh.retryAttempts", flag: "retry-attempts", env: "SWITCHBOARD_RETRY_ATTEMPTS", kind: "string", default: "", shown: "2", help: "attempts per agent call (stages may set their own)" },
  { key: "mesh.agentMaxTurns", flag: "agent-max-turns", env: "SWITCHBOARD_AGENT_MAX_TURNS", kind: "string", default: "", shown: "64", help: "turns running at once per agent (bulkhead)" },
  { key: "mesh.agentMaxQueue", flag: "agent-max-queue", env: "SWITCHBOARD_AGENT_MAX_QUEUE", kind: "string", default: "", shown: "64", help: "turns waiting per agent for a slot" },
  { key: "mesh.maxAgentCalls", flag: "max-agent-calls", env: "SWITCHBOARD_MAX_AGENT_CALLS", kind: "string", default: "", shown: "1024", help: "agent calls running at once, all agents" },
  { key: "mesh.healthInterval", flag: "health-interval", env: "SWITCHBOARD_HEALTH_INTERVAL", kind: "string", default: "", shown: "5", help: "seconds between health checks of agent instances" },
  { key: "mesh.balancer", flag: "balancer", env: "SWITCHBOARD_BALANCER", kind: "string", default: "", shown: "p2c", help: "p2c or least-outstanding" },
  { key: "streams.keepalive", flag: "keepalive", env: "SWITCHBOARD_KEEPALIVE", kind: "number", default: 30, help: "seconds between HTTP/2 pings on every connection (0: off)" },
  { key: "streams.buffer", flag: "stream-buffer", env: "SWITCHBOARD_STREAM_BUFFER", kind: "int", default: 1024, help: "KiB of unread events a stream may hold before it is paced or failed" },
  { key: "streams.slowReader", flag: "slow-reader", env: "SWITCHBOARD_SLOW_READER", kind: "seconds", default: 10, help: "seconds a full Converse stream may hold up the agent's output before RESOURCE_EXHAUSTED" },
  { key: "streams.replayWindow", flag: "replay-window", env: "SWITCHBOARD_REPLAY_WINDOW", kind: "int", default: 256, help: "KiB of recent events kept per session for exact resume" },
  { key: "mongodbUri", flag: "mongodb-uri", env: "MONGODB_URI", kind: "string", default: "", shown: "none: the embedded store", help: "keep sessions in MongoDB" },
  { key: "db", flag: "db", env: "SWITCHBOARD_DB", kind: "string", default: "", shown: "the URI's, else switchboard", help: "MongoDB database" },
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
  { key: "limits.maxMessageBytes", flag: "max-message-bytes", env: "SWITCHBOARD_MAX_MESSAGE_BYTES", kind: "int", default: defaultLimits.maxMessageBytes, help: "largest request message (RESOURCE_EXHAUSTED above)" },
  { key: "limits.maxStreamsPerConnection", flag: "max-streams-per-connection", env: "SWITCHBOARD_MAX_STREAMS_PER_CONNECTION", kind: "int", default: defaultLimits.maxStreamsPerConnection, help: "concurrent HTTP/2 streams per connection" },
  { key: "limits.maxStreamsPerToken", flag: "max-streams-per-token", env: "SWITCHBOARD_MAX_STREAMS_PER_TOKEN", kind: "int", default: defaultLimits.maxStreamsPerToken, help: "concurrent calls per token (per client address without auth); 0: no limit" },
  { key: "limits.turnsPerSecond", flag: "turns-per-second", env: "SWITCHBOARD_TURNS_PER_SECOND", kind: "number", default: defaultLimits.turnsPerSecond, shown: "0: no limit", help: "sustained turns per second per token" },
  { key: "limits.turnBurst", flag: "turn-burst", env: "SWITCHBOARD_TURN_BURST", kind: "int", default: defaultLimits.turnBurst, shown: "the rate, rounded up", help: "turns a token may start at once above the rate" },
  { key: "limits.maxStateBytes", flag: "max-state-bytes", env: "SWITCHBOARD_MAX_STATE_BYTES", kind: "int", default: defaultLimits.maxStateBytes, help: "largest session state (JSON bytes)" },
  { key: "limits.maxSessionVersions", flag: "max-session-versions", env: "SWITCHBOARD_MAX_SESSION_VERSIONS", kind: "int", default: defaultLimits.maxSessionVersions, help: "most versions (turns, rollbacks) per session" },
  { key: "redaction.patterns", flag: "redact", env: "SWITCHBOARD_REDACT", kind: "list", default: [], shown: "none", help: "redact matches in logs: a preset (card, email) or NAME=REGEX; repeatable" },
  { key: "redaction.fields", flag: "redact-field", env: "SWITCHBOARD_REDACT_FIELDS", kind: "list", default: [], shown: "none", help: "keys whose values are always redacted (e.g. accountId); repeatable" },
  { key: "redaction.auditTrail", flag: "redact-audit", env: "SWITCHBOARD_REDACT_AUDIT", kind: "bool", default: false, help: "redact the stored audit trail and transcript too" },
];

/**
 * ServeSettings are the settings after file, environment and flags, by key.
 */
export type ServeSettings = Record<string, string | number | boolean | string[] | Array<Record<string, unknown>> | undefined>;

/**
 * serveUsage renders the options for `--help`.
 */
export function serveUsage(command: "serve" | "demo"): string {
  const rows = serveOptions.map((o) => {
    const arg = o.kind === "bool" ? "" : o.kind === "list" ? " X" : o.kind === "seconds" ? " SECONDS" : o.kind === "port" || o.kind === "int" || o.kind === "number" ? " N" : " X";
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

const knownFileKeys = new Set(serveOptions.map((o) => o.key));

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

function convert(o: Option, raw: unknown, from: string): ServeSettings[string] {
  const bad = (what: string) => new UsageError(`${from}: ${JSON.stringify(raw)} is not ${what}`);
  switch (o.kind) {
    case "string":
      if (typeof raw !== "string") throw bad("a string");
      return raw;
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1" || raw === "") return true;
      if (raw === "false" || raw === "0") return false;
      throw bad("true or false");
    case "list":
      if (Array.isArray(raw)) return raw as string[];
      if (typeof raw === "string") return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
      throw bad("a list");
    default: {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (o.kind === "port" && (!Number.isInteger(n) || n < 0 || n > 65535)) throw bad("a port number");
      if (o.kind === "int" && (!Number.isInteger(n) || n < 0)) throw bad("a whole number of 0 or more");
      if (o.kind === "number" && (!Number.isFinite(n) || n < 0)) throw bad("a number of 0 or more");
      if (o.kind === "seconds" && (!Number.isFinite(n) || n <= 0)) throw bad("a positive number of seconds");
      return n;
    }
  }
}

/**
 * loadServeSettings reads the settings of `switchboard serve` from flags,
 * environment and config file, checking each and naming where a bad one came from.
 */
export function loadServeSettings(argv: string[], env: NodeJS.ProcessEnv): { settings: ServeSettings; help: boolean } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  };
  for (const o of serveOptions) options[o.flag] = { type: o.kind === "bool" ? "boolean" : "string", ...(o.kind === "list" ? { multiple: true } : {}) };
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
  const settings: ServeSettings = {};
  for (const o of serveOptions) {
    const flag = values[o.flag];
    const fromEnv = env[o.env];
    const fromFile = get(doc, o.key);
    if (flag !== undefined) settings[o.key] = convert(o, flag, `--${o.flag}`);
    else if (fromEnv !== undefined && fromEnv !== "") settings[o.key] = convert(o, fromEnv, o.env);
    else if (fromFile !== undefined && fromFile !== null) settings[o.key] = convert(o, fromFile, `${configFile}: ${o.key}`);
    else settings[o.key] = o.default;
  }
  return { settings, help: values["help"] === true };
}

/**
 * ServeConfig is what `serve` needs, read from the settings.
 */
export interface ServeConfig {
  host: string;
  port: number;
  flowsDir: string;
  defaultFlow: string;
  agents: Array<{ name: string; endpoint: string }>;
  sessionTtlMs: number;
  agentTimeoutMs: number;
  drainTimeoutMs: number;
  mongoUri: string;
  database: string;
  logLevel: string;
  /** The wire stack of agent calls. */
  agentTransport: "connect" | "grpc-js";
  mesh: MeshSettings;
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
 * reading the certificate, token and key files they name.
 */
export function serveConfig(s: ServeSettings, env: NodeJS.ProcessEnv): ServeConfig {
  const str = (k: string) => (s[k] as string | undefined) ?? "";
  const num = (k: string) => s[k] as number;
  const agents = (s["agents"] as Array<string | Record<string, unknown>>).map((spec) => {
    if (typeof spec === "object" && spec !== null) {
      const name = spec["name"];
      const endpoint = spec["url"] ?? spec["endpoint"];
      if (typeof name === "string" && name !== "" && typeof endpoint === "string" && /^https?:\/\/.+/.test(endpoint)) return { name, endpoint };
      throw new UsageError(`agents: ${JSON.stringify(spec)} is not { name, url }`);
    }
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq);
    const endpoint = spec.slice(eq + 1);
    if (eq <= 0 || !/^https?:\/\/.+/.test(endpoint)) {
      throw new UsageError(`--agent: ${JSON.stringify(spec)} is not NAME=URL (e.g. echo=http://127.0.0.1:7001)`);
    }
    return { name, endpoint };
  });
  const operability: OperabilityConfig = {};
  const limits: Limits = {
    maxMessageBytes: num("limits.maxMessageBytes"),
    maxStreamsPerConnection: num("limits.maxStreamsPerConnection"),
    maxStreamsPerToken: num("limits.maxStreamsPerToken"),
    turnsPerSecond: num("limits.turnsPerSecond"),
    turnBurst: num("limits.turnBurst"),
    maxStateBytes: num("limits.maxStateBytes"),
    maxSessionVersions: num("limits.maxSessionVersions"),
  };
  if (limits.maxMessageBytes < 1024) throw new UsageError("--max-message-bytes: must be 1024 or more");
  if (limits.maxStreamsPerConnection < 1) throw new UsageError("--max-streams-per-connection: must be 1 or more");
  if (limits.maxSessionVersions < 1) throw new UsageError("--max-session-versions: must be 1 or more");
  operability.limits = limits;
  if (s["metrics.port"] !== undefined) operability.metricsListen = { host: str("metrics.host"), port: num("metrics.port") };
  if (str("tls.cert") !== "" || str("tls.key") !== "") {
    if (str("tls.cert") === "" || str("tls.key") === "") throw new UsageError("--tls-cert and --tls-key go together");
    operability.tls = {
      cert: file(str("tls.cert"), "--tls-cert"),
      key: file(str("tls.key"), "--tls-key"),
      ...(str("tls.clientCa") !== "" ? { clientCa: file(str("tls.clientCa"), "--tls-client-ca") } : {}),
    };
  } else if (str("tls.clientCa") !== "") {
    throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (str("agentTls.ca") !== "" || str("agentTls.cert") !== "" || str("agentTls.key") !== "") {
    if ((str("agentTls.cert") === "") !== (str("agentTls.key") === "")) throw new UsageError("--agent-cert and --agent-key go together");
    operability.agentTls = {
      ...(str("agentTls.ca") !== "" ? { ca: file(str("agentTls.ca"), "--agent-ca") } : {}),
      ...(str("agentTls.cert") !== "" ? { cert: file(str("agentTls.cert"), "--agent-cert"), key: file(str("agentTls.key"), "--agent-key") } : {}),
    };
  }
  const auth = authSettings(s, env);
  if (auth !== undefined) operability.auth = auth;
  let redactor: Redactor;
  try {
    const patterns = (s["redaction.patterns"] as Array<string | { name: string; regex: string }>).map((p) => {
      if (typeof p !== "string") return p;
      const eq = p.indexOf("=");
      return eq > 0 ? { name: p.slice(0, eq), regex: p.slice(eq + 1) } : p;
    });
    redactor = new Redactor(compilePatterns(patterns), s["redaction.fields"] as string[], s["redaction.auditTrail"] === true);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  operability.redactor = redactor;
  return {
    host: str("host"),
    port: num("port"),
    flowsDir: str("flows"),
    defaultFlow: str("defaultFlow"),
    agents,
    sessionTtlMs: num("sessionTtl") * 1000,
    agentTimeoutMs: num("agentTimeout") * 1000,
    drainTimeoutMs: num("drainTimeout") * 1000,
    mongoUri: str("mongodbUri"),
    database: str("db"),
    logLevel: str("logLevel"),
    agentTransport: agentTransportKind(str("agentTransport")),
    operability,
    redactor,
    // The mesh's settings, resolved already (flag, env, file) above; the
    // mesh reads them as its own flags, and its environment is not asked again.
    mesh: meshSettings(
      {
        "agents-file": str("agentsFile") || undefined,
        "registry-token": str("registry.token") || undefined,
        "registry-refresh": str("registry.refresh") || undefined,
        "breaker-failures": str("mesh.breakerFailures") || undefined,
        "breaker-cooldown": str("mesh.breakerCooldown") || undefined,
        "retry-attempts": str("mesh.retryAttempts") || undefined,
        "agent-max-turns": str("mesh.agentMaxTurns") || undefined,
        "agent-max-queue": str("mesh.agentMaxQueue") || undefined,
        "max-agent-calls": str("mesh.maxAgentCalls") || undefined,
        "health-interval": str("mesh.healthInterval") || undefined,
        balancer: str("mesh.balancer") || undefined,
      },
      {},
      (message) => {
        throw new UsageError(message);
      },
    ),
    keepaliveMs: num("streams.keepalive") * 1000,
    streamLimits: {
      streamBufferBytes: Math.max(1, num("streams.buffer")) * 1024,
      slowReaderMs: num("streams.slowReader") * 1000,
      windowBytes: Math.max(1, num("streams.replayWindow")) * 1024,
    },
  };
}

function authSettings(s: ServeSettings, env: NodeJS.ProcessEnv): AuthSettings | undefined {
  const str = (k: string) => (s[k] as string | undefined) ?? "";
  const tokensFile = str("auth.tokensFile");
  const secretFile = str("auth.jwtSecretFile");
  const secretEnv = env["SWITCHBOARD_JWT_SECRET"] ?? "";
  const jwksFile = str("auth.jwksFile");
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
      tenantClaim: str("auth.tenantClaim") || "tenant",
      ...(secret !== "" ? { secret: new TextEncoder().encode(secret) } : {}),
      ...(jwks !== undefined ? { jwks: jwks as never } : {}),
      ...(str("auth.jwtIssuer") !== "" ? { issuer: str("auth.jwtIssuer") } : {}),
      ...(str("auth.jwtAudience") !== "" ? { audience: str("auth.jwtAudience") } : {}),
    };
  }
  const publicList = s["auth.public"] as string[];
  return {
    tokens,
    ...(jwt !== undefined ? { jwt } : {}),
    publicMethods: publicList.length === 1 && publicList[0] === "none" ? [] : publicList,
  };
}

function agentTransportKind(v: string): "connect" | "grpc-js" {
  if (v === "connect" || v === "grpc-js") return v;
  throw new UsageError(`--agent-transport: ${JSON.stringify(v)} is not one of connect, grpc-js`);
}
