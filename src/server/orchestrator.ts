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
import { AgentPool, type TransportFactory } from "../mesh/agent-pool.js";
import { MemoryStore } from "../store/memory-store.js";
import type { Logger } from "../log.js";
import type { FlowCatalog } from "./flow-catalog.js";
import { healthService, HealthStatus, ServingStatus } from "./health.js";
import { HttpServer } from "./http-server.js";
import { InFlight } from "./in-flight.js";
import { orchestratorService } from "./orchestrator-service.js";
import { Reflector, reflectionServices } from "./reflection.js";

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
  /** The wire stack for agent calls; Connect's gRPC transport when omitted. */
  agentTransport?: TransportFactory;
  /** The session store; the embedded in-memory store when omitted. */
  store?: SessionStore;
  sessionTtlMs: number;
  agentTimeoutMs: number;
  /** How long a drain waits for running turns before it gives up. */
  drainTimeoutMs: number;
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
  const pool = new AgentPool(config.agentTransport);
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
  const health = new HealthStatus();
  const reflection = reflectionServices(new Reflector(servedServices));
  const routes = (router: ConnectRouter) => {
    router.service(OrchestratorService, orchestratorService({ engine, admin, store, flows: config.flows, inFlight }));
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const server = new HttpServer(connectNodeAdapter({ routes }), { host: config.host, port: config.port });
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
