import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { serveAgent } from "../sdk/index.js";
import { echoAgent } from "../../agents/echo/agent.js";
import { conformanceMain } from "../conformance/cli.js";
import { createLogger, type Logger } from "../log.js";
import { grpcJsTransport } from "../mesh/grpc-js-transport.js";
import { MongoStore } from "../store/mongo-store.js";
import { FlowCatalog, FlowLoadError } from "../server/flow-catalog.js";
import { startOrchestrator, type Orchestrator } from "../server/orchestrator.js";

const defaultFlowsDir = fileURLToPath(new URL("../../flows", import.meta.url));

const usage = `switchboard: a gRPC agent-mesh orchestrator

Usage:
  switchboard serve [options]   run the orchestrator
  switchboard demo [options]    run the orchestrator with the sample echo agent
  switchboard conformance URL   check an agent against the AgentService contract
                                (switchboard conformance --help for its options)
  switchboard help              show this help

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
  --agent-transport KIND   connect|grpc-js: the wire stack for agent calls
                           SWITCHBOARD_AGENT_TRANSPORT connect
  --mongodb-uri URI        keep sessions in MongoDB   MONGODB_URI          (embedded in-memory store)
  --db NAME                MongoDB database   SWITCHBOARD_DB   the URI's database, else switchboard
  --log-level LEVEL        trace|debug|info|warn|error  SWITCHBOARD_LOG_LEVEL info
  --help                   show this help
`;

/**
 * ServeSettings are the orchestrator's settings after flags and environment.
 */
interface ServeSettings {
  host: string;
  port: number;
  flowsDir: string;
  defaultFlow: string;
  agents: Array<{ name: string; endpoint: string }>;
  sessionTtlMs: number;
  agentTimeoutMs: number;
  drainTimeoutMs: number;
  agentTransport: AgentTransportKind;
  mongoUri: string;
  database: string;
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
      "agent-transport": { type: "string" },
      "mongodb-uri": { type: "string" },
      db: { type: "string" },
      "log-level": { type: "string" },
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
    agentTransport: agentTransportKind(values["agent-transport"] ?? env["SWITCHBOARD_AGENT_TRANSPORT"] ?? "connect"),
    mongoUri: values["mongodb-uri"] ?? env["MONGODB_URI"] ?? "",
    database: values.db ?? env["SWITCHBOARD_DB"] ?? "",
    logLevel: values["log-level"] ?? env["SWITCHBOARD_LOG_LEVEL"] ?? "info",
  };
}

type AgentTransportKind = "connect" | "grpc-js";

function agentTransportKind(v: string): AgentTransportKind {
  if (v === "connect" || v === "grpc-js") return v;
  throw new UsageError(`--agent-transport: ${JSON.stringify(v)} is not one of connect, grpc-js`);
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
    host: s.host,
    port: s.port,
    flows,
    agents: s.agents,
    sessionTtlMs: s.sessionTtlMs,
    agentTimeoutMs: s.agentTimeoutMs,
    drainTimeoutMs: s.drainTimeoutMs,
    ...(s.agentTransport === "grpc-js" ? { agentTransport: grpcJsTransport } : {}),
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
  const agent = await serveAgent({ ...echoAgent, host: "127.0.0.1" });
  log.info({ agent: agent.card.name, url: agent.url }, "sample agent listening");
  const orchestrator = await serve({ ...s, agents: [...s.agents, { name: "echo", endpoint: agent.url }] }, log);
  const addr = `${s.host.includes(":") ? `[${s.host}]` : s.host}:${orchestrator.port}`;
  process.stderr.write(`
Switchboard is running on ${addr} with the sample echo agent (embedded in-memory store).
Talk to it with grpcurl:

  grpcurl -plaintext ${addr} list
  grpcurl -plaintext -d '{"session_id":"demo-1","input":{"text":"hello"}}' ${addr} switchboard.v1.OrchestratorService/SendTurn
  grpcurl -plaintext -d '{"session_id":"demo-1"}' ${addr} switchboard.v1.OrchestratorService/GetSession

or with curl (Connect protocol, JSON over HTTP/1.1):

  curl -s -H 'Content-Type: application/json' -d '{"sessionId":"demo-1","input":{"text":"hi again"}}' http://${addr}/switchboard.v1.OrchestratorService/SendTurn

Press Ctrl-C to stop.
`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError || e instanceof FlowLoadError || (e instanceof TypeError && "code" in e)) {
    process.stderr.write(`switchboard: ${e.message}\n\n${e instanceof UsageError || e instanceof TypeError ? usage : ""}`);
    process.exit(2);
  }
  process.stderr.write(`switchboard: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
