import type { Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { TransportFactory } from "./agent-pool.js";

/**
 * AgentTls is how the orchestrator connects to agents over TLS: the CA
 * that signs the agents' certificates and, for mutual TLS, the
 * orchestrator's own client certificate. It applies to `https://` agent
 * endpoints.
 */
export interface AgentTls {
  /** CA certificates agents' certificates must chain to; the system's CAs when unset. */
  ca?: Buffer | string;
  /** The client certificate presented to agents (mutual TLS). */
  cert?: Buffer | string;
  /** The client certificate's private key. */
  key?: Buffer | string;
}

/**
 * AgentTransportOptions configure the transport to agents.
 */
export interface AgentTransportOptions {
  tls?: AgentTls;
  /** Interceptors for every agent call (e.g. trace headers). */
  interceptors?: Interceptor[];
}

/**
 * agentTransport is the TransportFactory for agents: Connect's gRPC
 * transport over one HTTP/2 connection per endpoint, kept alive with pings,
 * with TLS settings for `https://` endpoints.
 */
export function agentTransport(opts: AgentTransportOptions = {}): TransportFactory {
  const tls = opts.tls;
  return (endpoint) =>
    createGrpcTransport({
      baseUrl: endpoint,
      pingIntervalMs: 15_000,
      pingTimeoutMs: 10_000,
      idleConnectionTimeoutMs: 5 * 60_000,
      interceptors: opts.interceptors ?? [],
      ...(tls !== undefined && endpoint.startsWith("https:")
        ? {
            nodeOptions: {
              ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
              ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
              ...(tls.key !== undefined ? { key: tls.key } : {}),
            },
          }
        : {}),
    });
}
