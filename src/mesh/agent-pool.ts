import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AgentService,
  type HandleTurnRequest,
  HandleTurnRequestSchema,
} from "../gen/switchboard/v1/agent_pb.js";
import type { AgentResult } from "../gen/switchboard/v1/turn_pb.js";
import { markRetryable } from "../core/errors.js";
import type { AgentCall, AgentInvoker, AgentOutcome } from "../core/ports.js";
import { noDelayConnection } from "./no-delay.js";

/**
 * TransportFactory makes the transport for one agent endpoint. The default
 * is Connect's gRPC transport over HTTP/2; keeping it behind this seam lets
 * the wire stack change without touching the engine.
 */
export type TransportFactory = (endpoint: string) => Transport;

/**
 * grpcTransport is the default TransportFactory: one HTTP/2 connection per
 * endpoint (Nagle off, see noDelayConnection), kept alive with pings and
 * reused by every turn.
 */
export const grpcTransport: TransportFactory = (endpoint) =>
  createGrpcTransport({
    baseUrl: endpoint,
    pingIntervalMs: 15_000,
    pingTimeoutMs: 10_000,
    idleConnectionTimeoutMs: 5 * 60_000,
    nodeOptions: { createConnection: noDelayConnection },
  });

/**
 * AgentPool calls agents by name over one bidirectional HandleTurn stream
 * per turn, spreading turns round-robin over each agent's endpoints.
 */
export class AgentPool implements AgentInvoker {
  private readonly clients = new Map<string, Client<typeof AgentService>>();
  private readonly endpoints = new Map<string, string[]>();
  private next = 0;

  constructor(private readonly transport: TransportFactory = grpcTransport) {}

  /**
   * add makes an agent instance known.
   */
  add(agent: string, endpoint: string): void {
    const list = this.endpoints.get(agent) ?? [];
    if (!list.includes(endpoint)) list.push(endpoint);
    this.endpoints.set(agent, list);
  }

  has(agent: string): boolean {
    return (this.endpoints.get(agent)?.length ?? 0) > 0;
  }

  /**
   * agents lists the known agents with their endpoints.
   */
  list(): Array<{ agent: string; endpoints: string[] }> {
    return [...this.endpoints].map(([agent, endpoints]) => ({ agent, endpoints: [...endpoints] }));
  }

  async invoke(call: AgentCall): Promise<AgentOutcome> {
    const endpoints = this.endpoints.get(call.agent);
    if (endpoints === undefined || endpoints.length === 0) {
      throw new ConnectError(`agent ${JSON.stringify(call.agent)} has no known instance`, Code.Unavailable);
    }
    const endpoint = endpoints[this.next++ % endpoints.length] as string;
    const started = performance.now();
    const result = await this.stream(this.client(endpoint), endpoint, call);
    return {
      result,
      instance: endpoint,
      attempts: 1,
      latencyMs: Math.round(performance.now() - started),
      breaker: "closed",
    };
  }

  private async stream(client: Client<typeof AgentService>, endpoint: string, call: AgentCall): Promise<AgentResult> {
    // The request side stays open until the agent answers, so the agent can
    // be sent more input or a cancel while it works.
    const done = new AbortController();
    const requests = async function* (): AsyncGenerator<HandleTurnRequest> {
      yield create(HandleTurnRequestSchema, { kind: { case: "start", value: call.start } });
      await new Promise<void>((resolve) => {
        if (done.signal.aborted) resolve();
        done.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    };
    try {
      for await (const res of client.handleTurn(requests(), { signal: call.signal, timeoutMs: call.timeoutMs })) {
        switch (res.kind.case) {
          case "delta":
            call.onDelta(res.kind.value);
            break;
          case "result":
            return res.kind.value;
        }
      }
      throw new ConnectError(
        `agent ${call.agent} at ${endpoint} closed the turn's stream without a result`,
        Code.Internal,
      );
    } catch (e) {
      throw agentError(call, endpoint, e);
    } finally {
      done.abort();
    }
  }

  private client(endpoint: string): Client<typeof AgentService> {
    let client = this.clients.get(endpoint);
    if (client === undefined) {
      client = createClient(AgentService, this.transport(endpoint));
      this.clients.set(endpoint, client);
    }
    return client;
  }
}

/**
 * agentError turns a failed agent call into the error the turn fails with,
 * naming the agent, and marks connection failures retryable.
 */
function agentError(call: AgentCall, endpoint: string, e: unknown): ConnectError {
  const err = ConnectError.from(e);
  const who = `agent ${call.agent} at ${endpoint}`;
  switch (err.code) {
    case Code.DeadlineExceeded:
      return new ConnectError(`${who} did not finish within ${Math.round(call.timeoutMs)}ms`, Code.DeadlineExceeded);
    case Code.Canceled:
      return new ConnectError(`the turn was cancelled while ${who} was working`, Code.Canceled);
    case Code.Unavailable:
      return markRetryable(new ConnectError(`${who} is unavailable: ${err.rawMessage}`, Code.Unavailable, undefined, undefined, err));
    default:
      return new ConnectError(`${who} failed: ${err.rawMessage}`, err.code, undefined, undefined, err);
  }
}
