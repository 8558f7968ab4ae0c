import type { Interceptor } from "@connectrpc/connect";
import type { TurnReport } from "../core/turn-events.js";
import type { AgentInvoker, SessionStore } from "../core/ports.js";
import type { Logger } from "../log.js";
import type { TransportFactory } from "../mesh/connection-pool.js";
import { type AgentStack, type AgentTls, agentTransport } from "../mesh/agent-transport.js";
import type { KeepaliveOptions } from "../mesh/keepalive.js";
import { processLoopDelay } from "../mesh/loop-delay.js";
import { Authenticator, type AuthSettings, authInterceptor } from "./auth.js";
import type { ListenOptions, ServerTls } from "./http-server.js";
import { instrumentInvoker } from "./instrumented-invoker.js";
import { instrumentStore } from "./instrumented-store.js";
import { defaultLimits, type Limits, StreamCounter, streamsInterceptor, TurnRateLimit } from "./limits.js";
import { Metrics, MetricsServer } from "./metrics.js";
import type { Redactor } from "./redaction.js";
import { currentTraceId, currentTurn, traceHeaderInterceptor } from "./tracing.js";
import { TurnAdmission } from "./turn-admission.js";

/**
 * OperabilityConfig is how the orchestrator is secured, bounded and
 * observed. Everything is optional: without it the orchestrator serves
 * clear text to anyone, with the default limits, and keeps its metrics
 * unpublished.
 */
export interface OperabilityConfig {
  /** Client authentication; unset lets every client act for every tenant. */
  auth?: AuthSettings;
  limits?: Partial<Limits>;
  /** Serve TLS with this certificate. */
  tls?: ServerTls;
  /** TLS to `https://` agents, with a client certificate for mutual TLS. */
  agentTls?: AgentTls;
  /** The PINGs on agent connections (defaultKeepaliveOptions when unset). */
  agentKeepalive?: KeepaliveOptions;
  /** The client stack of agent calls (see AgentTransportOptions.stack). */
  agentStack?: AgentStack;
  /** Serve the metrics on this address (GET /metrics). */
  metricsListen?: { host: string; port: number };
  /** Use these metrics (e.g. to share them with a mesh); new ones otherwise. */
  metrics?: Metrics;
  /** What to redact in logs and, if it says so, in the audit trail. */
  redactor?: Redactor;
}

/**
 * Operability is the orchestrator's security, limits and observability,
 * as pieces for the wiring in startOrchestrator.
 */
export interface Operability {
  readonly limits: Limits;
  readonly metrics: Metrics;
  /** Server interceptors: authentication, then per-client stream limits. */
  readonly interceptors: Interceptor[];
  /** The bearer-token check, for what is served beside the RPCs (A2A's JSON-RPC); unset when authentication is off. */
  readonly authenticator: Authenticator | undefined;
  /** How to listen: TLS and the HTTP/2 settings the limits need. */
  readonly listen: Pick<ListenOptions, "tls" | "http2Settings">;
  /** The transport to agents (TLS, trace headers). */
  readonly agentTransport: TransportFactory;
  /** The per-token turn rate every turn is charged to. */
  readonly turnRate: TurnRateLimit;
  /** The replica's admission limit every new turn passes. */
  readonly turnAdmission: TurnAdmission;
  /** The metrics server, when configured; not yet listening. */
  readonly metricsServer: MetricsServer | undefined;
  wrapStore(store: SessionStore): SessionStore;
  wrapInvoker(invoker: AgentInvoker): AgentInvoker;
  /** onTurn logs one line per turn and counts it in the metrics. */
  onTurn(report: TurnReport): void;
}

/**
 * operability builds the Operability of a configuration.
 */
export function operability(config: OperabilityConfig, log: Logger): Operability {
  const limits: Limits = { ...defaultLimits, ...config.limits };
  const metrics = config.metrics ?? new Metrics();
  const interceptors: Interceptor[] = [];
  const authenticator = config.auth !== undefined ? new Authenticator(config.auth) : undefined;
  if (config.auth !== undefined && authenticator !== undefined) {
    interceptors.push(authInterceptor(authenticator, config.auth.publicMethods, metrics));
  }
  interceptors.push(streamsInterceptor(new StreamCounter(limits.maxStreamsPerToken), metrics));
  const turnLog = log.child({ component: "turn" });
  const agentLog = log.child({ component: "agent" });
  return {
    limits,
    metrics,
    interceptors,
    authenticator,
    listen: {
      ...(config.tls !== undefined ? { tls: config.tls } : {}),
      http2Settings: { maxConcurrentStreams: limits.maxStreamsPerConnection },
    },
    agentTransport: agentTransport({
      ...(config.agentTls !== undefined ? { tls: config.agentTls } : {}),
      ...(config.agentKeepalive !== undefined ? { keepalive: config.agentKeepalive } : {}),
      ...(config.agentStack !== undefined ? { stack: config.agentStack } : {}),
      interceptors: [traceHeaderInterceptor],
    }),
    turnRate: new TurnRateLimit(limits, metrics),
    turnAdmission: new TurnAdmission(limits, processLoopDelay(), metrics),
    metricsServer: config.metricsListen !== undefined ? new MetricsServer(metrics, config.metricsListen) : undefined,
    wrapStore: (store) => instrumentStore(store, metrics, config.redactor),
    wrapInvoker: (invoker) => instrumentInvoker(invoker, metrics, agentLog),
    onTurn(r) {
      metrics.turnFinished(r.flow, r.stage, r.status, r.latencyMs / 1000);
      metrics.versionTurn(r.flow, r.flowVersion, r.status, r.created);
      const turn = currentTurn()?.turn;
      const line = {
        ...r,
        traceId: currentTraceId(),
        ...(turn !== undefined ? { accountId: turn.accountId, tenant: turn.tenant } : {}),
        // The user's words only at debug level: they are personal data.
        ...(turn !== undefined && turnLog.isLevelEnabled("debug")
          ? { input: { text: turn.input.text.slice(0, 500), intent: turn.input.intent } }
          : {}),
      };
      if (r.status === "failed") turnLog.warn(line, "turn failed");
      else turnLog.info(line, "turn");
    },
  };
}
