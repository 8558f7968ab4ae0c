import { create } from "@bufbuild/protobuf";
import { type Client as ConnectClient, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ClientDuplexStream, credentials, makeGenericClientConstructor, Metadata } from "@grpc/grpc-js";
import {
  AgentService,
  type HandleTurnRequest,
  HandleTurnRequestSchema,
  type HandleTurnResponse,
  type TurnStart,
} from "../../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { createGrpcJsTransport } from "../../src/mesh/grpc-js-transport.js";
import { noDelayConnection } from "../../src/mesh/no-delay.js";
import { grpcJsService } from "./grpc-js-service.js";

/**
 * TurnTiming is what a client measured of one turn, in milliseconds from
 * when it started the call.
 */
export interface TurnTiming {
  /** Time to the first output delta; undefined where the API streams none. */
  ttfd?: number;
}

/** AgentTurn runs one HandleTurn stream to its result. */
export type AgentTurn = (start: TurnStart) => Promise<TurnTiming>;

/** Stack names a client library: Connect's own gRPC transport, or a Connect client over grpc-js, or plain grpc-js. */
export type ClientStack = "connect" | "connect-over-grpc-js" | "grpc-js";

/**
 * connectTransport is a Connect transport of either kind, with the
 * settings the orchestrator uses for agents.
 */
export function connectTransport(url: string, stack: Exclude<ClientStack, "grpc-js">): Transport & { close?: () => void } {
  return stack === "connect"
    ? createGrpcTransport({
        baseUrl: url,
        pingIntervalMs: 15_000,
        idleConnectionTimeoutMs: 300_000,
        nodeOptions: { createConnection: noDelayConnection },
      })
    : createGrpcJsTransport({ baseUrl: url });
}

/**
 * agentClient returns a function that runs one turn against an agent (or a
 * relay) the way the orchestrator does: the request side stays open until
 * the result arrives.
 */
export function agentClient(url: string, stack: ClientStack): { turn: AgentTurn; close(): void } {
  if (stack === "grpc-js") return grpcJsAgentClient(url);
  const transport = connectTransport(url, stack);
  const client: ConnectClient<typeof AgentService> = createClient(AgentService, transport);
  const turn: AgentTurn = async (start) => {
    const t0 = performance.now();
    let ttfd: number | undefined;
    let release = () => {};
    const requestsDone = new Promise<void>((r) => (release = r));
    const requests = async function* (): AsyncGenerator<HandleTurnRequest> {
      yield create(HandleTurnRequestSchema, { kind: { case: "start", value: start } });
      await requestsDone;
    };
    try {
      for await (const res of client.handleTurn(requests(), { timeoutMs: 30_000 })) {
        if (res.kind.case === "delta") ttfd ??= performance.now() - t0;
        else if (res.kind.case === "result") return ttfd === undefined ? {} : { ttfd };
      }
      throw new Error("the stream ended without a result");
    } finally {
      release();
    }
  };
  return { turn, close: () => transport.close?.() };
}

function grpcJsAgentClient(url: string): { turn: AgentTurn; close(): void } {
  const Ctor = makeGenericClientConstructor(grpcJsService(AgentService), "AgentService");
  const client = new Ctor(new URL(url).host, credentials.createInsecure()) as unknown as {
    handleTurn(md: Metadata, opts: object): ClientDuplexStream<HandleTurnRequest, HandleTurnResponse>;
    close(): void;
  };
  const turn: AgentTurn = (start) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      let ttfd: number | undefined;
      let result = false;
      const call = client.handleTurn(new Metadata(), { deadline: Date.now() + 30_000 });
      call.on("data", (res: HandleTurnResponse) => {
        if (res.kind.case === "delta") ttfd ??= performance.now() - t0;
        else if (res.kind.case === "result") {
          result = true;
          call.end();
        }
      });
      call.on("error", reject);
      call.on("status", (s: { code: number }) => {
        if (s.code === 0 && result) resolve(ttfd === undefined ? {} : { ttfd });
        else if (s.code === 0) reject(new Error("the stream ended without a result"));
      });
      call.write(create(HandleTurnRequestSchema, { kind: { case: "start", value: start } }));
    });
  return { turn, close: () => client.close() };
}

/**
 * orchestratorClient is a Connect client of an OrchestratorService (the
 * orchestrator, or the LangGraph server that speaks the same API).
 */
export function orchestratorClient(url: string, stack: Exclude<ClientStack, "grpc-js"> = "connect") {
  const transport = connectTransport(url, stack);
  return { client: createClient(OrchestratorService, transport), close: () => transport.close?.() };
}
