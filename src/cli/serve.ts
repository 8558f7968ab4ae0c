import { contactCentreAgents } from "../../agents/contact-centre/index.js";
import { echoAgent } from "../../agents/echo/agent.js";
import { createLogger, type Logger } from "../log.js";
import { serveAgent } from "../sdk/index.js";
import { FlowCatalog } from "../server/flow-catalog.js";
import { startOrchestrator, type Orchestrator } from "../server/orchestrator.js";
import { type Command, UsageError } from "./command.js";
import { type ServeConfig, serveConfig } from "./serve-config.js";
import { loadServeSettings, serveUsage } from "./serve-settings.js";

/** mongoStores loads the MongoDB session and registry stores. */
async function mongoStores() {
  const [{ MongoStore }, { MongoRegistryStore }, { MongoRolloutStore }, { MongoReplicaDirectory }] = await Promise.all([
    import("../store/mongo-store.js"),
    import("../store/mongo-registry-store.js"),
    import("../store/mongo-rollout-store.js"),
    import("../store/mongo-replica-directory.js"),
  ]);
  return { MongoStore, MongoRegistryStore, MongoRolloutStore, MongoReplicaDirectory };
}

async function serve(c: ServeConfig, log: Logger): Promise<Orchestrator> {
  const flows = new FlowCatalog(c.defaultFlow);
  flows.loadDirectory(c.flowsDir);
  if (flows.get(c.defaultFlow, "") === undefined) {
    throw new UsageError(`--default-flow: no flow ${JSON.stringify(c.defaultFlow)} in ${c.flowsDir}`);
  }
  // The MongoDB driver and grpc-js are loaded only when the settings ask
  // for them: together they are most of the modules a start would load
  // otherwise, and a replica serves nothing until its modules are loaded.
  const mongo = c.mongoUri === "" ? undefined : await mongoStores();
  const storeLog = log.child({ component: "store" });
  const store =
    mongo === undefined
      ? undefined
      : await mongo.MongoStore.open({
          uri: c.mongoUri,
          database: c.database,
          onBackgroundError: (err, what) => storeLog.warn({ err, what }, "session store background work failed"),
        });
  if (store !== undefined) storeLog.info({ database: store.databaseName }, "sessions are kept in MongoDB");
  const orchestrator = await startOrchestrator({
    ...(store ? { store } : {}),
    // Replicas sharing the database share the agent registry too.
    // The stores beside the sessions share the session store's client.
    ...(mongo !== undefined && store !== undefined ? { registryStore: new mongo.MongoRegistryStore({ db: store.database }) } : {}),
    // ...and the replica directory, so that a watch on any replica sees them all.
    ...(mongo !== undefined && store !== undefined
      ? {
          replicas: {
            directory: new mongo.MongoReplicaDirectory({ db: store.database }),
            advertise: c.advertise,
            heartbeatMs: c.replicaHeartbeatMs,
          },
        }
      : {}),
    host: c.host,
    port: c.port,
    flows,
    a2a: c.a2a,
    agents: c.agents,
    mesh: c.mesh,
    registryToken: c.registryToken,
    registryRefreshMs: c.registryRefreshMs,
    // Replicas sharing the database split new sessions by the same rollouts.
    ...(mongo !== undefined && store !== undefined ? { rolloutStore: new mongo.MongoRolloutStore({ db: store.database }) } : {}),
    rolloutRefreshMs: c.rolloutRefreshMs,
    rolloutGuardIntervalMs: c.rolloutGuardIntervalMs,
    keepaliveMs: c.keepaliveMs,
    ...(c.agentTransport === "grpc-js"
      ? { agentTransport: (await import("../mesh/grpc-js-transport.js")).grpcJsAgentTransport(c.operability.agentKeepalive) }
      : {}),
    streamLimits: c.streamLimits,
    sessionTtlMs: c.sessionTtlMs,
    agentTimeoutMs: c.agentTimeoutMs,
    drainTimeoutMs: c.drainTimeoutMs,
    logger: log,
    operability: c.operability,
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

/**
 * serveCommand runs the orchestrator until SIGTERM.
 */
export const serveCommand: Command = {
  name: ["serve"],
  summary: "run the orchestrator",
  usage: serveUsage("serve"),
  async run(argv, io) {
    const { settings } = loadServeSettings(argv, io.env);
    const c = serveConfig(settings, io.env);
    await serve(c, createLogger({ level: c.logLevel, redactor: c.redactor }));
    return 0;
  },
};

/**
 * demoCommand runs the orchestrator with the sample echo agent in the same
 * process, and says how to talk to it.
 */
export const demoCommand: Command = {
  name: ["demo"],
  summary: "run the orchestrator with the sample agents (echo, and the contact-centre flow's)",
  usage: serveUsage("demo"),
  async run(argv, io) {
    const { settings } = loadServeSettings(argv, io.env);
    const c = serveConfig(settings, io.env);
    const log = createLogger({ level: c.logLevel, redactor: c.redactor });
    const samples = [];
    for (const sample of [echoAgent, ...contactCentreAgents]) {
      const agent = await serveAgent({ ...sample, host: "127.0.0.1" });
      log.debug({ agent: agent.card.name, url: agent.url }, "sample agent listening");
      samples.push({ name: agent.card.name, endpoint: agent.url });
    }
    log.info({ agents: samples.map((a) => a.name) }, "sample agents listening");
    const orchestrator = await serve({ ...c, agents: [...c.agents, ...samples] }, log);
    const addr = `${c.host.includes(":") ? `[${c.host}]` : c.host}:${orchestrator.port}`;
    io.err.write(`
Switchboard is running on ${addr} with the sample agents (embedded in-memory store).
Open the console in a browser: http://${addr}/console/

Talk to it with grpcurl:

  grpcurl -plaintext ${addr} list
  grpcurl -plaintext -d '{"session_id":"demo-1","input":{"text":"hello"}}' ${addr} switchboard.v1.OrchestratorService/SendTurn
  grpcurl -plaintext -d '{"session_id":"demo-1"}' ${addr} switchboard.v1.OrchestratorService/GetSession

or with curl (Connect protocol, JSON over HTTP/1.1):

  curl -s -H 'Content-Type: application/json' -d '{"sessionId":"demo-1","input":{"text":"hi again"}}' http://${addr}/switchboard.v1.OrchestratorService/SendTurn

The contact-centre flow (flows/contact-centre.yaml; the README walks through it):

  grpcurl -plaintext -d '{"session_id":"call-1","flow_id":"contact-centre","input":{"text":"hello"}}' ${addr} switchboard.v1.OrchestratorService/SendTurn

or with the switchboard command:

  npx switchboard sessions show demo-1 --server http://${addr}

Press Ctrl-C to stop.
`);
    return 0;
  },
};
