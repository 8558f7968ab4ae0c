import { randomUUID } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { Engine, type TurnRecord } from "../core/engine.js";
import { systemClock, type SessionStore } from "../core/ports.js";
import { SessionAdmin } from "../core/session-admin.js";
import { unavailable } from "../core/errors.js";
import { AgentCards } from "../mesh/agent-cards.js";
import { AgentPool } from "../mesh/agent-pool.js";
import { MemoryStore } from "../store/memory-store.js";
import type { Logger } from "../log.js";
import type { FlowCatalog } from "./flow-catalog.js";
import { healthService, HealthStatus, ServingStatus } from "./health.js";
import { HttpServer } from "./http-server.js";
import { InFlight } from "./in-flight.js";
import { streamingService } from "./converse.js";
import { orchestratorService } from "./orchestrator-service.js";
import { Reflector, reflectionServices } from "./reflection.js";
import { defaultHubLimits, type HubLimits, SessionHub } from "./session-hub.js";

/**
 * OrchestratorConfig is everything an orchestrator needs to start.
 */
export interface OrchestratorConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  flows: FlowCatalog;
  /** Statically configured agent instances. */
  agents: Array<{ name: string; endpoint: string }>;
  /** The session store; the embedded in-memory store when omitted. */
  store?: SessionStore;
  sessionTtlMs: number;
  agentTimeoutMs: number;
  /** How long a drain waits for running turns before it gives up. */
  drainTimeoutMs: number;
  /** Limits of the streaming API's buffers (defaults: defaultHubLimits). */
  streamLimits?: Partial<HubLimits>;
  /** Interval of HTTP/2 keepalive pings (default 30 s). */
  keepaliveMs?: number;
  logger: Logger;
}

/**
 * Orchestrator is a running orchestrator server.
 */
export interface Orchestrator {
  readonly port: number;
  readonly health: HealthStatus;
  /**
   * drain reports NOT_SERVING, refuses new turns, waits for running turns
   * (up to the drain timeout) and closes the server.
   */
  drain(): Promise<void>;
}

/**
 * servedServices are the services every orchestrator serves, as reflection
 * lists them.
 */
const servedServices = [
  OrchestratorService.typeName,
  Health.typeName,
  ReflectionV1.typeName,
  ReflectionV1alpha.typeName,
];

/**
 * startOrchestrator wires the engine, store, mesh and RPC handlers together
 * and starts serving.
 */
export async function startOrchestrator(config: OrchestratorConfig): Promise<Orchestrator> {
  const log = config.logger;
  const turnLog = log.child({ component: "turn" });
  const store = config.store ?? new MemoryStore();
  const pool = new AgentPool();
  for (const { name, endpoint } of config.agents) pool.add(name, endpoint);
  const newId = () => randomUUID();
  const engine = new Engine({
    store,
    invoker: pool,
    flows: config.flows,
    clock: systemClock,
    newId,
    sessionTtlMs: config.sessionTtlMs,
    defaultAgentTimeoutMs: config.agentTimeoutMs,
    onTurn: (r: TurnRecord) => {
      if (r.status === "failed") turnLog.warn(r, "turn failed");
      else turnLog.info(r, "turn");
    },
  });
  const admin = new SessionAdmin(store, systemClock, newId, config.sessionTtlMs);
  const inFlight = new InFlight();
  const limits = { ...defaultHubLimits, ...config.streamLimits };
  const hub = new SessionHub({
    engine,
    store,
    clock: systemClock,
    newId,
    sessionTtlMs: config.sessionTtlMs,
    limits,
    log: log.child({ component: "hub" }),
  });
  const cards = new AgentCards((agent) => pool.list().find((a) => a.agent === agent)?.endpoints ?? []);
  const health = new HealthStatus();
  const reflection = reflectionServices(new Reflector(servedServices));
  const routes = (router: ConnectRouter) => {
    router.service(OrchestratorService, {
      ...orchestratorService({ hub, admin, store, flows: config.flows, inFlight }),
      ...streamingService({
        hub,
        inFlight,
        newId,
        streamBufferBytes: limits.streamBufferBytes,
        acceptsAudio: (agent) => cards.acceptsAudio(agent),
      }),
    });
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const server = new HttpServer(connectNodeAdapter({ routes }), {
    host: config.host,
    port: config.port,
    ...(config.keepaliveMs !== undefined ? { keepaliveMs: config.keepaliveMs } : {}),
  });
  const port = await server.listen();
  health.set(OrchestratorService.typeName, ServingStatus.SERVING);
  health.set("", ServingStatus.SERVING);
  log.info({ port, host: config.host, agents: pool.list(), flows: config.flows.all().map((f) => `${f.id}@${f.version}`) }, "listening");

  let draining: Promise<void> | undefined;
  const drain = async () => {
    health.setAll(ServingStatus.NOT_SERVING);
    log.info({ inFlight: inFlight.size }, "draining: finishing running turns");
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
    await store.close();
    log.info("stopped");
  };
  return {
    port,
    health,
    drain: () => (draining ??= drain()),
  };
}
