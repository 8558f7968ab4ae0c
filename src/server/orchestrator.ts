import { randomUUID } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { A2AService } from "../gen/lf/a2a/v1/a2a_pb.js";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { RegistryService } from "../gen/switchboard/v1/registry_pb.js";
import { RolloutService } from "../gen/switchboard/v1/rollout_pb.js";
import { hasFlowStats } from "../core/flow-stats.js";
import type { RolloutStore } from "../core/rollout-store.js";
import { MemoryRolloutStore } from "../store/memory-rollout-store.js";
import { rolloutService } from "./rollout-service.js";
import { Rollouts } from "./rollouts.js";
import { A2aAgents, type A2aSettings } from "../a2a/a2a-agents.js";
import { a2aGrpcService } from "../a2a/grpc-binding.js";
import { jsonRpcBinding } from "../a2a/jsonrpc-binding.js";
import { Engine } from "../core/engine.js";
import { systemClock, type SessionStore } from "../core/ports.js";
import { unavailable } from "../core/errors.js";
import { AgentCards } from "../mesh/agent-cards.js";
import type { TransportFactory } from "../mesh/connection-pool.js";
import { Mesh, type MeshOptions } from "../mesh/mesh.js";
import { Registry, type StaticInstance } from "../mesh/registry.js";
import type { RegistryStore } from "../mesh/registry-store.js";
import { MemoryRegistryStore } from "../store/memory-registry-store.js";
import { MemoryStore } from "../store/memory-store.js";
import type { Logger } from "../log.js";
import { stageAgents } from "../core/flow.js";
import { type FlowCatalog, FlowLoadError, type LoadedFlows } from "./flow-catalog.js";
import { healthService, HealthStatus, ServingStatus } from "./health.js";
import { withConsole } from "./console-files.js";
import { HttpServer } from "./http-server.js";
import { InFlight } from "./in-flight.js";
import { orchestratorService } from "./orchestrator-service.js";
import { Reflector, reflectionServices } from "./reflection.js";
import type { Metrics } from "./metrics.js";
import { operability, type OperabilityConfig } from "./operability.js";
import { grpcHandler, rpcHandler } from "./rpc-adapter.js";
import { streamingService } from "./converse.js";
import { registryService } from "./registry-service.js";
import { defaultHubLimits, type HubLimits } from "./live-sessions.js";
import type { ReplicaDirectory } from "./replica-directory.js";
import { advertisedUrl, ReplicaPeers } from "./replica-peers.js";
import { SessionHub } from "./session-hub.js";
import { TurnEntry } from "./turn-entry.js";
import { useAsciiFastEncoding } from "../wire/ascii-utf8.js";

/**
 * OrchestratorConfig is everything an orchestrator needs to start.
 */
export interface OrchestratorConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  flows: FlowCatalog;
  /** Statically configured agent instances. */
  agents: StaticInstance[];
  /** Mesh settings: breakers, retries, bulkheads, health checks, balancing. */
  mesh?: Partial<MeshOptions>;
  /**
   * Where agent registrations live; this process's memory when omitted.
   * Replicas given one shared store route to every agent registered with any.
   */
  registryStore?: RegistryStore;
  /** How stale this replica's view of registrations made elsewhere may get, ms (default 2s). */
  registryRefreshMs?: number;
  /** Where flow rollouts and their audit trail live; this process's memory when omitted. */
  rolloutStore?: RolloutStore;
  /** How stale this replica's view of rollouts changed elsewhere may get, ms (default 2s). */
  rolloutRefreshMs?: number;
  /** How often this replica checks the rollouts' guards, ms (default 30s; 0: never). */
  rolloutGuardIntervalMs?: number;
  /** The token agents must present to register; registration is open when empty. */
  registryToken?: string;
  /** Limits of the streaming API's buffers (defaults: defaultHubLimits). */
  streamLimits?: Partial<HubLimits>;
  /** Interval of HTTP/2 keepalive pings (default 30 s). */
  keepaliveMs?: number;
  /** Which flows answer as Agent2Agent agents (docs/a2a.md); every flow when omitted. */
  a2a?: A2aSettings;
  /** Security, limits and observability (auth, TLS, limits, metrics, redaction). */
  operability?: OperabilityConfig;
  /** The wire stack for agent calls (e.g. grpcJsTransport); Connect's gRPC transport, with the TLS settings, when omitted. */
  agentTransport?: TransportFactory;
  /** The session store; the embedded in-memory store when omitted. */
  store?: SessionStore;
  /**
   * The directory of the replicas sharing the session store (with MongoDB):
   * WatchSession then shows a session's live events whichever replica runs
   * its turns. Without it, watches see this replica's turns only.
   */
  replicas?: ReplicaSettings;
  sessionTtlMs: number;
  agentTimeoutMs: number;
  /** How long a drain waits for running turns before it gives up. */
  drainTimeoutMs: number;
  logger: Logger;
}

/**
 * ReplicaSettings say how this replica finds the others and is found.
 */
export interface ReplicaSettings {
  directory: ReplicaDirectory;
  /** Where the other replicas reach this one (see advertisedUrl); the listen address when empty. */
  advertise: string;
  /** How often this replica renews its entry and reads the others', ms (default 2000). */
  heartbeatMs?: number;
}

/**
 * Orchestrator is a running orchestrator server.
 */
export interface Orchestrator {
  readonly port: number;
  readonly health: HealthStatus;
  /** The port of the metrics endpoint, when one is configured. */
  readonly metricsPort: number | undefined;
  readonly metrics: Metrics;
  /**
   * drain reports NOT_SERVING, refuses new turns, waits for running turns
   * (up to the drain timeout) and closes the server.
   */
  drain(): Promise<void>;
  /**
   * reloadFlows reads the flow directory again (what SIGHUP and the
   * ReloadFlows RPC do). It throws FlowLoadError, changing nothing, when a
   * file has a problem.
   */
  reloadFlows(): LoadedFlows;
}

/**
 * servedServices are the services reflection lists (`grpcurl list`).
 * A2A's lf.a2a.v1.A2AService is served too but not listed: an A2A
 * client finds it by the agent card, and reflection's list stays
 * Switchboard's own API; `grpcurl describe lf.a2a.v1.A2AService` still
 * resolves it from the descriptor set.
 */
const servedServices = [
  OrchestratorService.typeName,
  RegistryService.typeName,
  RolloutService.typeName,
  Health.typeName,
  ReflectionV1.typeName,
  ReflectionV1alpha.typeName,
];

/**
 * startOrchestrator wires the engine, store, mesh and RPC handlers together
 * and starts serving.
 */
export async function startOrchestrator(config: OrchestratorConfig): Promise<Orchestrator> {
  // Every turn encodes a few hundred short strings to protobuf.
  useAsciiFastEncoding();
  const log = config.logger;
  const ops = operability(config.operability ?? {}, log);
  const rawStore = config.store ?? new MemoryStore();
  const store = ops.wrapStore(rawStore);
  const meshLog = log.child({ component: "mesh" });
  const registryStore = config.registryStore ?? new MemoryRegistryStore();
  const registry = new Registry({
    store: registryStore,
    statics: config.agents,
    ...(config.registryRefreshMs !== undefined ? { refreshMs: config.registryRefreshMs } : {}),
    onRefreshError: (err) => meshLog.warn({ err }, "registry refresh failed; routing on the last view"),
  });
  await registry.start();
  const mesh = new Mesh(registry, {
    transport: config.agentTransport ?? ops.agentTransport,
    ...config.mesh,
    onEvent: (e) => {
      if (e.kind === "breaker" && (e.state === "closed" || e.state === "half_open" || e.state === "open")) {
        ops.metrics.breakerState(e.agent, e.instance, e.state);
      }
      if (e.state === "closed" || e.state === "serving") meshLog.info(e, "instance state");
      else meshLog.warn(e, "instance state");
    },
  });
  const flowLog = log.child({ component: "flows" });
  const warnUnknownAgents = () => {
    for (const flow of config.flows.all()) {
      const unknown = [...new Set(flow.stages.flatMap(stageAgents))].filter((a) => !mesh.has(a));
      if (unknown.length > 0) {
        flowLog.warn({ flow: `${flow.id}@${flow.version}`, agents: unknown }, "flow names agents with no known instance; turns that need them fail with UNAVAILABLE");
      }
    }
  };
  warnUnknownAgents();
  const reloadFlows = (): LoadedFlows => {
    try {
      const loaded = config.flows.reload();
      flowLog.info(loaded, "flows reloaded");
      warnUnknownAgents();
      return loaded;
    } catch (e) {
      if (e instanceof FlowLoadError) flowLog.error({ problems: e.problems }, "flows not reloaded; nothing changed");
      throw e;
    }
  };
  const rolloutStore = config.rolloutStore ?? new MemoryRolloutStore();
  const rollouts = new Rollouts({
    store: rolloutStore,
    catalog: config.flows,
    stats: hasFlowStats(rawStore) ? rawStore : undefined,
    metrics: ops.metrics,
    log: log.child({ component: "rollouts" }),
    ...(config.rolloutRefreshMs !== undefined ? { refreshMs: config.rolloutRefreshMs } : {}),
    ...(config.rolloutGuardIntervalMs !== undefined ? { guardIntervalMs: config.rolloutGuardIntervalMs } : {}),
  });
  await rollouts.start();
  const newId = () => randomUUID();
  const engine = new Engine({
    store,
    invoker: ops.wrapInvoker(mesh),
    flows: rollouts,
    clock: systemClock,
    newId,
    sessionTtlMs: config.sessionTtlMs,
    defaultAgentTimeoutMs: config.agentTimeoutMs,
    maxStateBytes: ops.limits.maxStateBytes,
    maxSessionVersions: ops.limits.maxSessionVersions,
    onTurn: (r) => ops.onTurn(r),
  });
  const inFlight = new InFlight();
  ops.metrics.countTurnsInFlight(() => inFlight.size);
  const limits = { ...defaultHubLimits, ...config.streamLimits };
  const hub = new SessionHub({ engine, store, newId, limits, log: log.child({ component: "hub" }) });
  const entry = new TurnEntry({ hub, inFlight, rate: ops.turnRate, admission: ops.turnAdmission });
  const cards = new AgentCards((agent) => registry.instances(agent));
  const a2a = new A2aAgents(
    { entry, hub, store, streamBufferBytes: limits.streamBufferBytes },
    config.flows,
    config.a2a ?? {},
    {
      bearer: config.operability?.auth === undefined ? "none" : config.operability.auth.jwt !== undefined ? "jwt" : "token",
      mtls: config.operability?.tls?.clientCa !== undefined,
    },
    config.operability?.tls !== undefined,
  );
  const replicaLog = log.child({ component: "replicas" });
  const heartbeatMs = config.replicas?.heartbeatMs ?? 2000;
  const peers =
    config.replicas === undefined ? undefined : new ReplicaPeers({ directory: config.replicas.directory, id: newId(), heartbeatMs, log: replicaLog });
  const health = new HealthStatus();
  const reflection = reflectionServices(new Reflector(servedServices));
  const routes = (router: ConnectRouter) => {
    router.service(OrchestratorService, {
      ...orchestratorService({
        entry,
        engine,
        store,
        flows: config.flows,
        reloadFlows,
        maxSessionVersions: ops.limits.maxSessionVersions,
      }),
      ...streamingService({
        hub,
        entry,
        store,
        newId,
        streamBufferBytes: limits.streamBufferBytes,
        acceptsAudio: (agent) => cards.acceptsAudio(agent),
        // A peer that has not answered within a heartbeat joins the watch late.
        ...(peers !== undefined ? { relay: { peers, joinTimeoutMs: heartbeatMs, log: replicaLog } } : {}),
      }),
    });
    router.service(RegistryService, registryService({ registry, mesh, token: config.registryToken ?? "" }));
    router.service(RolloutService, rolloutService(rollouts));
    router.service(A2AService, a2aGrpcService(a2a));
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const rpcOptions = { routes, interceptors: ops.interceptors, readMaxBytes: ops.limits.maxMessageBytes };
  const rpc = rpcHandler(rpcOptions);
  // A2A's JSON-RPC and agent cards are plain HTTP paths beside the RPCs, and
  // the console is static files on the same port: the browser talks Connect
  // to the origin it was loaded from, with no CORS to configure.
  const a2aHttp = jsonRpcBinding({ agents: a2a, authenticator: ops.authenticator, maxBodyBytes: ops.limits.maxMessageBytes });
  const server = new HttpServer(withConsole((req, res) => {
    if (!a2aHttp(req, res)) rpc(req, res);
  }), {
    host: config.host,
    port: config.port,
    ...ops.listen,
    // gRPC calls (every gateway and agent SDK) are served on HTTP/2's stream
    // API; Connect, gRPC-Web, A2A's JSON-RPC and the console by the handler.
    grpc: grpcHandler(rpcOptions),
    ...(config.keepaliveMs !== undefined ? { keepaliveMs: config.keepaliveMs } : {}),
  });
  const port = await server.listen();
  if (peers !== undefined) {
    const url = advertisedUrl(config.replicas?.advertise ?? "", config.host, port, ops.listen.tls !== undefined);
    if (url === undefined) {
      replicaLog.warn({ host: config.host }, "this replica listens on a wildcard address and advertises none: watchers on other replicas do not see its turns; set --advertise-address");
    }
    await peers.start(url);
    replicaLog.info({ url, peers: peers.list().map((p) => p.url) }, "replica announced");
  }
  const metricsPort = await ops.metricsServer?.listen();
  if (metricsPort !== undefined) log.info({ port: metricsPort }, "metrics listening");
  health.set(OrchestratorService.typeName, ServingStatus.SERVING);
  health.set(RegistryService.typeName, ServingStatus.SERVING);
  health.set(RolloutService.typeName, ServingStatus.SERVING);
  health.set(A2AService.typeName, ServingStatus.SERVING);
  health.set("", ServingStatus.SERVING);
  log.info({ port, host: config.host, tls: ops.listen.tls !== undefined, auth: config.operability?.auth !== undefined, agents: registry.instances().map((i) => `${i.name}=${i.endpoint}`), flows: config.flows.all().map((f) => `${f.id}@${f.version}`) }, "listening");

  let draining: Promise<void> | undefined;
  const drain = async () => {
    health.setAll(ServingStatus.NOT_SERVING);
    log.info({ inFlight: inFlight.size }, "draining: finishing running turns");
    // New watches elsewhere stop relaying from this replica; running relays
    // end with its streams, between turns. (Not awaited here: a database
    // that is down must not hold up the drain.)
    const withdrawn = peers?.withdraw();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), config.drainTimeoutMs);
    });
    const late = await Promise.race([inFlight.drain().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) log.warn({ inFlight: inFlight.size }, "drain timed out; closing with turns still running");
    // Streams end with UNAVAILABLE once they have read their events, so
    // clients resume on another replica.
    hub.close(unavailable("the orchestrator is shutting down; reconnect (to another replica) with resume_after_seq set to the last seq you received"));
    await server.close();
    await withdrawn;
    await peers?.close();
    cards.close();
    registry.stop();
    rollouts.stop();
    mesh.close();
    await registryStore.close();
    await rolloutStore.close();
    await ops.metricsServer?.close();
    await store.close();
    log.info("stopped");
  };
  return {
    port,
    health,
    metricsPort,
    metrics: ops.metrics,
    drain: () => (draining ??= drain()),
    reloadFlows,
  };
}
