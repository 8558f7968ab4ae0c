import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { serveAgent } from "../sdk/index.js";
import { echoAgent } from "../../agents/echo/agent.js";
import { conformanceMain } from "../conformance/cli.js";
import { contactCentreAgents } from "../../agents/contact-centre/index.js";
import { createLogger, type Logger } from "../log.js";
import { MongoRegistryStore } from "../store/mongo-registry-store.js";
import { MongoStore } from "../store/mongo-store.js";
import { AgentsFileError } from "../server/agents-file.js";
import { FlowCatalog, FlowLoadError } from "../server/flow-catalog.js";
import { startOrchestrator, type Orchestrator } from "../server/orchestrator.js";
import { flowValidate } from "./flow-validate.js";
import { meshFlagOptions, type MeshSettings, meshSettings, meshUsage } from "./mesh-flags.js";

const defaultFlowsDir = fileURLToPath(new URL("../../flows", import.meta.url));

const usage = `switchboard: a gRPC agent-mesh orchestrator

Usage:
  switchboard serve [options]   run the orchestrator
  switchboard demo [options]    run the orchestrator with the sample agents
                                (echo, and the contact-centre flow's)
  switchboard flow validate FILE|DIR...   check flow files; print every problem
  switchboard conformance URL   check an agent against the AgentService contract
                                (switchboard conformance --help for its options)
  switchboard help              show this help

The server reloads its flow directory on SIGHUP (or the ReloadFlows RPC).

Options (each also read from the environment variable shown; flags win):
  --host HOST              listen address            SWITCHBOARD_HOST     127.0.0.1
  --port PORT              listen port (0: any free) SWITCHBOARD_PORT     50051
  --flows DIR              directory of flow files   SWITCHBOARD_FLOWS    ./flows
  --default-flow ID        flow of new sessions      SWITCHBOARD_DEFAULT_FLOW assistant
  --agent NAME=URL         a static agent instance   SWITCHBOARD_AGENTS   (NAME=URL,NAME=URL)
                           (repeatable)
  --session-ttl SECONDS    idle time before a session expires  SWITCHBOARD_SESSION_TTL 3600
  --agent-timeout SECONDS  default agent budget per turn       SWITCHBOARD_AGENT_TIMEOUT 30
  --drain-timeout SECONDS  longest wait for running turns on SIGTERM  SWITCHBOARD_DRAIN_TIMEOUT 30
  --mongodb-uri URI        keep sessions in MongoDB   MONGODB_URI          (embedded in-memory store)
  --db NAME                MongoDB database   SWITCHBOARD_DB   the URI's database, else switchboard
  --keepalive SECONDS      HTTP/2 ping interval (0: off)       SWITCHBOARD_KEEPALIVE 30
  --stream-buffer KIB      unread bytes a stream may hold      SWITCHBOARD_STREAM_BUFFER 1024
  --slow-reader SECONDS    how long a full Converse stream may hold up output  SWITCHBOARD_SLOW_READER 10
  --replay-window KIB      recent events kept per session for resume  SWITCHBOARD_REPLAY_WINDOW 256
  --log-level LEVEL        trace|debug|info|warn|error  SWITCHBOARD_LOG_LEVEL info
${meshUsage}  --help                   show this help
`;

/**
 * ServeSettings are the orchestrator's settings after flags and environment.
 */
interface ServeSettings extends MeshSettings {
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
  keepaliveMs: number;
  streamLimits: { streamBufferBytes: number; slowReaderMs: number; windowBytes: number };
  logLevel: string;
}

class UsageError extends Error {}

function settings(argv: string[], env: NodeJS.ProcessEnv): ServeSettings & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      flows: { type: "string" },
      "default-flow": { type: "string" },
      agent: { type: "string", multiple: true },
      "session-ttl": { type: "string" },
      "agent-timeout": { type: "string" },
      "drain-timeout": { type: "string" },
      "mongodb-uri": { type: "string" },
      db: { type: "string" },
      keepalive: { type: "string" },
      "stream-buffer": { type: "string" },
      "slow-reader": { type: "string" },
      "replay-window": { type: "string" },
      "log-level": { type: "string" },
      ...meshFlagOptions,
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const seconds = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined || v === "") return fallback * 1000;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name}: ${JSON.stringify(v)} is not a positive number of seconds`);
    return n * 1000;
  };
  const kib = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined || v === "") return fallback * 1024;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name}: ${JSON.stringify(v)} is not a positive whole number of KiB`);
    return n * 1024;
  };
  const keepalive = values.keepalive ?? env["SWITCHBOARD_KEEPALIVE"];
  const port = Number(values.port ?? env["SWITCHBOARD_PORT"] ?? "50051");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: ${port} is not a port number`);
  const agentSpecs = values.agent ?? (env["SWITCHBOARD_AGENTS"] ?? "").split(",").filter((s) => s !== "");
  const agents = agentSpecs.map((spec) => {
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq);
    const endpoint = spec.slice(eq + 1);
    if (eq <= 0 || !/^https?:\/\/.+/.test(endpoint)) {
      throw new UsageError(`--agent: ${JSON.stringify(spec)} is not NAME=URL (e.g. echo=http://127.0.0.1:7001)`);
    }
    return { name, endpoint };
  });
  return {
    help: values.help === true,
    host: values.host ?? env["SWITCHBOARD_HOST"] ?? "127.0.0.1",
    port,
    flowsDir: values.flows ?? env["SWITCHBOARD_FLOWS"] ?? defaultFlowsDir,
    defaultFlow: values["default-flow"] ?? env["SWITCHBOARD_DEFAULT_FLOW"] ?? "assistant",
    agents,
    sessionTtlMs: seconds("session-ttl", values["session-ttl"] ?? env["SWITCHBOARD_SESSION_TTL"], 3600),
    agentTimeoutMs: seconds("agent-timeout", values["agent-timeout"] ?? env["SWITCHBOARD_AGENT_TIMEOUT"], 30),
    drainTimeoutMs: seconds("drain-timeout", values["drain-timeout"] ?? env["SWITCHBOARD_DRAIN_TIMEOUT"], 30),
    mongoUri: values["mongodb-uri"] ?? env["MONGODB_URI"] ?? "",
    database: values.db ?? env["SWITCHBOARD_DB"] ?? "",
    keepaliveMs: keepalive === "0" ? 0 : seconds("keepalive", keepalive, 30),
    streamLimits: {
      streamBufferBytes: kib("stream-buffer", values["stream-buffer"] ?? env["SWITCHBOARD_STREAM_BUFFER"], 1024),
      slowReaderMs: seconds("slow-reader", values["slow-reader"] ?? env["SWITCHBOARD_SLOW_READER"], 10),
      windowBytes: kib("replay-window", values["replay-window"] ?? env["SWITCHBOARD_REPLAY_WINDOW"], 256),
    },
    logLevel: values["log-level"] ?? env["SWITCHBOARD_LOG_LEVEL"] ?? "info",
    ...meshSettings(values, env, (message) => {
      throw new UsageError(message);
    }),
  };
}

async function serve(s: ServeSettings, log: Logger): Promise<Orchestrator> {
  const flows = new FlowCatalog(s.defaultFlow);
  flows.loadDirectory(s.flowsDir);
  if (flows.get(s.defaultFlow, "") === undefined) {
    throw new UsageError(`--default-flow: no flow ${JSON.stringify(s.defaultFlow)} in ${s.flowsDir}`);
  }
  const storeLog = log.child({ component: "store" });
  const store =
    s.mongoUri === ""
      ? undefined
      : await MongoStore.open({
          uri: s.mongoUri,
          database: s.database,
          onBackgroundError: (err, what) => storeLog.warn({ err, what }, "session store background work failed"),
        });
  if (store !== undefined) storeLog.info({ database: store.databaseName }, "sessions are kept in MongoDB");
  const orchestrator = await startOrchestrator({
    ...(store ? { store } : {}),
    // Replicas sharing the database share the agent registry too.
    ...(s.mongoUri !== "" ? { registryStore: new MongoRegistryStore({ uri: s.mongoUri, database: s.database }) } : {}),
    host: s.host,
    port: s.port,
    flows,
    agents: [...s.agents, ...s.instances],
    mesh: s.mesh,
    registryToken: s.registryToken,
    registryRefreshMs: s.registryRefreshMs,
    sessionTtlMs: s.sessionTtlMs,
    agentTimeoutMs: s.agentTimeoutMs,
    drainTimeoutMs: s.drainTimeoutMs,
    keepaliveMs: s.keepaliveMs,
    streamLimits: s.streamLimits,
    logger: log,
  });
  // SIGTERM (and Ctrl-C) drain: running turns finish, then the process exits 0.
  const stop = (signal: string) => {
    log.info({ signal }, "shutting down");
    orchestrator.drain().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, "drain failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // SIGHUP reloads the flow directory; a bad file changes nothing (and is logged).
  process.on("SIGHUP", () => {
    try {
      orchestrator.reloadFlows();
    } catch {
      // Logged by reloadFlows; the server keeps the flows it had.
    }
  });
  return orchestrator;
}

async function main(argv: string[]): Promise<void> {
  const [command = "help", ...rest] = argv;
  if (command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(usage);
    return;
  }
  if (command === "conformance") {
    process.exitCode = await conformanceMain(rest);
    return;
  }
  if (command === "flow") {
    const [sub, ...args] = rest;
    if (sub !== "validate") throw new UsageError(`unknown flow command ${JSON.stringify(sub ?? "")} (try: switchboard flow validate FILE)`);
    const result = flowValidate(args, process.env);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exitCode = result.code;
    return;
  }
  if (command !== "serve" && command !== "demo") throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const s = settings(rest, process.env);
  if (s.help) {
    process.stdout.write(usage);
    return;
  }
  const log = createLogger({ level: s.logLevel });
  if (command === "serve") {
    await serve(s, log);
    return;
  }
  const samples = [];
  for (const sample of [echoAgent, ...contactCentreAgents]) {
    const agent = await serveAgent({ ...sample, host: "127.0.0.1" });
    log.debug({ agent: agent.card.name, url: agent.url }, "sample agent listening");
    samples.push({ name: agent.card.name, endpoint: agent.url });
  }
  log.info({ agents: samples.map((a) => a.name) }, "sample agents listening");
  const orchestrator = await serve({ ...s, agents: [...s.agents, ...samples] }, log);
  const addr = `${s.host.includes(":") ? `[${s.host}]` : s.host}:${orchestrator.port}`;
  process.stderr.write(`
Switchboard is running on ${addr} with the sample agents (embedded in-memory store).
Talk to it with grpcurl:

  grpcurl -plaintext ${addr} list
  grpcurl -plaintext -d '{"session_id":"demo-1","input":{"text":"hello"}}' ${addr} switchboard.v1.OrchestratorService/SendTurn
  grpcurl -plaintext -d '{"session_id":"demo-1"}' ${addr} switchboard.v1.OrchestratorService/GetSession

or with curl (Connect protocol, JSON over HTTP/1.1):

  curl -s -H 'Content-Type: application/json' -d '{"sessionId":"demo-1","input":{"text":"hi again"}}' http://${addr}/switchboard.v1.OrchestratorService/SendTurn

The contact-centre flow (flows/contact-centre.yaml; the README walks through it):

  grpcurl -plaintext -d '{"session_id":"call-1","flow_id":"contact-centre","input":{"text":"hello"}}' ${addr} switchboard.v1.OrchestratorService/SendTurn

Press Ctrl-C to stop.
`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError || e instanceof FlowLoadError || e instanceof AgentsFileError || (e instanceof TypeError && "code" in e)) {
    process.stderr.write(`switchboard: ${e.message}\n\n${e instanceof UsageError || e instanceof TypeError ? usage : ""}`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
