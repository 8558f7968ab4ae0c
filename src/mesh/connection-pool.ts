import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { defaultKeepaliveOptions, KeepaliveSessionManager } from "./keepalive.js";
import { noDelayConnection } from "./no-delay.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AgentService } from "../gen/switchboard/v1/agent_pb.js";

/**
 * PooledTransport is the transport to one agent instance with the means to
 * close its connection.
 */
export interface PooledTransport {
  readonly transport: Transport;
  /** close ends the connection and any call still on it. */
  close(): void;
}

/**
 * TransportFactory makes the transport for one agent instance. The default
 * is Connect's gRPC transport over one HTTP/2 connection; keeping it behind
 * this seam lets the wire stack change (e.g. to a @grpc/grpc-js based
 * transport) without touching the engine or the mesh.
 */
export type TransportFactory = (endpoint: string) => PooledTransport;

/**
 * grpcTransport is the default TransportFactory: one HTTP/2 connection per
 * instance, reused by every turn and health check, kept alive with PING
 * frames (a connection that stops answering while this process's loop runs
 * is replaced; see SessionKeepalive) and closed after five idle minutes. A lost connection is reopened by the next call; the
 * health checker paces those attempts with backoff while it is down.
 */
export const grpcTransport: TransportFactory = (endpoint) => {
  const sessionManager = new KeepaliveSessionManager(
    endpoint,
    defaultKeepaliveOptions,
    // Nagle off on clear-text connections (see noDelayConnection).
    endpoint.startsWith("http:") ? { createConnection: noDelayConnection } : undefined,
  );
  return {
    transport: createGrpcTransport({ baseUrl: endpoint, sessionManager }),
    close: () => sessionManager.abort(),
  };
};

/**
 * Connection is the clients of one agent instance over its transport.
 */
export interface Connection {
  readonly agent: Client<typeof AgentService>;
  readonly health: Client<typeof Health>;
}

/**
 * ConnectionPool holds one connection per agent instance, made on first use.
 */
export class ConnectionPool {
  private readonly connections = new Map<string, Connection & { pooled: PooledTransport }>();

  constructor(private readonly factory: TransportFactory = grpcTransport) {}

  /**
   * get returns the instance's connection, making it on first use.
   */
  get(instanceId: string, endpoint: string): Connection {
    let c = this.connections.get(instanceId);
    if (c === undefined) {
      const pooled = this.factory(endpoint);
      c = { pooled, agent: createClient(AgentService, pooled.transport), health: createClient(Health, pooled.transport) };
      this.connections.set(instanceId, c);
    }
    return c;
  }

  /**
   * close closes an instance's connection, if it has one.
   */
  close(instanceId: string): void {
    const c = this.connections.get(instanceId);
    if (c === undefined) return;
    this.connections.delete(instanceId);
    c.pooled.close();
  }

  /**
   * closeAll closes every connection.
   */
  closeAll(): void {
    for (const id of [...this.connections.keys()]) this.close(id);
  }

  /** size is the number of open connections. */
  get size(): number {
    return this.connections.size;
  }
}

/**
 * connectionErrorCodes are the Node error codes of a connection that could
 * not be made or broke.
 */
const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_PING_CANCEL",
  // fetch (undici), which A2A agents are called with: a socket that closed mid-response.
  "UND_ERR_SOCKET",
]);

/**
 * isConnectionFailure tells whether an error (or one of its causes) is a
 * failed or broken connection rather than an answer from the agent.
 */
export function isConnectionFailure(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && connectionErrorCodes.has(code)) return true;
  }
  return false;
}
