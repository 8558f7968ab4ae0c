import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { TransportFactory } from "./connection-pool.js";
import { createGrpcStreamTransport } from "./grpc-stream-transport.js";
import { defaultKeepaliveOptions, type KeepaliveOptions, KeepaliveSessionManager } from "./keepalive.js";
import { noDelayConnection } from "./no-delay.js";
import { guardIterable } from "../wire/guarded-iterable.js";

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
  /** The PINGs on each agent connection (defaultKeepaliveOptions when unset). */
  keepalive?: KeepaliveOptions;
  /** The client stack; "stream" when unset. */
  stack?: AgentStack;
}

/**
 * AgentStack is how an agent call goes on the wire under Connect's client
 * API: "stream" frames gRPC on Node's HTTP/2 stream API
 * (createGrpcStreamTransport), "connect" uses Connect's own gRPC
 * transport. Both share the connection handling (KeepaliveSessionManager).
 */
export type AgentStack = "stream" | "connect";

/**
 * agentTransport is the TransportFactory for agents: a gRPC transport over
 * one HTTP/2 connection per endpoint, kept alive with pings
 * judged against this process's own event-loop delay (KeepaliveSessionManager),
 * with TLS settings for `https://` endpoints.
 */
export function agentTransport(opts: AgentTransportOptions = {}): TransportFactory {
  const tls = opts.tls;
  const keepalive = opts.keepalive ?? defaultKeepaliveOptions;
  return (endpoint) => {
    const nodeOptions = endpoint.startsWith("https:")
      ? {
          ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
          ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
          ...(tls?.key !== undefined ? { key: tls.key } : {}),
        }
      : // Clear text: Nagle off (see noDelayConnection).
        { createConnection: noDelayConnection };
    const sessionManager = new KeepaliveSessionManager(endpoint, keepalive, nodeOptions);
    const options = { baseUrl: endpoint, sessionManager, interceptors: [connectionErrors, ...(opts.interceptors ?? [])] };
    return {
      transport: opts.stack === "connect" ? createGrpcTransport(options) : createGrpcStreamTransport(options),
      close: () => sessionManager.abort(),
    };
  };
}

const tlsCodes = /^(ERR_SSL_|ERR_TLS_)|CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/**
 * connectionError turns a failure of the connection itself into
 * UNAVAILABLE with the reason: a TLS handshake that failed (an untrusted
 * certificate, a client certificate the agent refused), or a stream the
 * agent's side reset while the caller still wanted it. Connect reports
 * these as INTERNAL or CANCELED, which would read as an agent bug or a
 * cancelled turn.
 */
export function connectionError(e: unknown, signal: AbortSignal, tls = false): unknown {
  if (!(e instanceof ConnectError)) return e;
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const causeCode = typeof cause?.code === "string" ? cause.code : "";
  if (tlsCodes.test(causeCode)) {
    return new ConnectError(`TLS with the agent failed (${causeCode}): ${String(cause?.message ?? e.rawMessage).split(":").slice(-2).join(":").trim() || e.rawMessage}; check the CA and client certificate settings`, Code.Unavailable, undefined, undefined, e);
  }
  // A stream the agent's side reset (CANCEL while the caller still wants
  // it) is the mesh's to judge: it knows whether output already went out.
  if (tls && e.code === Code.Canceled && !signal.aborted) {
    return new ConnectError(
      `the agent's side closed the stream (${e.rawMessage}); if the agent requires client certificates, check the orchestrator's`,
      Code.Unavailable,
      undefined,
      undefined,
      e,
    );
  }
  return e;
}

const connectionErrors: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    if (!res.stream) return res;
    return { ...res, message: guardIterable(res.message, { error: (e) => connectionError(e, req.signal, req.url.startsWith("https:")) }) };
  } catch (e) {
    throw connectionError(e, req.signal, req.url.startsWith("https:"));
  }
};
