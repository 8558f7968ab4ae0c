import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AsyncQueue } from "../../../src/core/async-queue.js";
import { Health } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import {
  type AgentCard,
  AgentCardSchema,
  AgentService,
  DescribeResponseSchema,
  type HandleTurnRequest,
  type HandleTurnResponse,
  HandleTurnResponseSchema,
  type InputDelta,
  type OutputDelta,
  type TurnStart,
} from "../../../src/gen/switchboard/v1/agent_pb.js";
import { AgentResultSchema } from "../../../src/gen/switchboard/v1/turn_pb.js";
import { healthService, HealthStatus, ServingStatus } from "../../../src/server/health.js";
import { HttpServer, type ServerTls } from "../../../src/server/http-server.js";
import { Reflector, reflectionServices } from "../../../src/server/reflection.js";
import { Registration, type RegistrationOptions } from "./registration.js";

/**
 * AgentResultInit is an agent's final result as a plain object, e.g.
 * `{ text: "Done", statePatch: { verified: true }, next: { action: Action.ADVANCE } }`.
 */
export type AgentResultInit = MessageInitShape<typeof AgentResultSchema>;

/**
 * Turn is what a handler gets for one turn.
 */
export interface Turn {
  /** The turn's start message: session, stage, intent, input, state, history. */
  readonly start: TurnStart;
  /** The user's text (shorthand for `start.input?.text`). */
  readonly text: string;
  /** Aborted when the orchestrator cancels the turn (barge-in, deadline). */
  readonly signal: AbortSignal;
  /** When the orchestrator stops waiting for this turn. */
  readonly deadline: Date;
  /** More input for the turn, when the user's input is streamed. */
  readonly input: AsyncIterable<InputDelta>;
}

/**
 * TurnHandler serves one turn. It yields output as it produces it (strings
 * or OutputDelta-shaped objects) and returns the final result; a plain
 * string is taken as the result's text. A handler that yields nothing may
 * be an ordinary async function.
 */
export type TurnHandler = (
  turn: Turn,
) =>
  | AsyncGenerator<string | Partial<Pick<OutputDelta, "text" | "audio">>, AgentResultInit | string | void, void>
  | Promise<AgentResultInit | string>;

/**
 * AgentOptions describe an agent to serve.
 */
export interface AgentOptions {
  /** The agent's card: at least its name. */
  card: MessageInitShape<typeof AgentCardSchema>;
  handler: TurnHandler;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /**
   * Register with an orchestrator once listening, keep the lease alive by
   * heartbeat, and deregister on close.
   */
  register?: RegistrationOptions;
  /** Serve TLS with this certificate; with `clientCa`, only to clients whose certificate it signed (mutual TLS). */
  tls?: ServerTls;
}

/**
 * RunningAgent is an agent server that is listening.
 */
export interface RunningAgent {
  readonly card: AgentCard;
  readonly port: number;
  /** The endpoint to give the orchestrator, e.g. "http://127.0.0.1:7001". */
  readonly url: string;
  readonly health: HealthStatus;
  /** The instance id the orchestrator gave this agent, when it registered. */
  readonly instanceId: string | undefined;
  /** close deregisters the agent (when it registered) and stops the server. */
  close(): Promise<void>;
}

/**
 * serveAgent runs a handler as a switchboard.v1.AgentService server (with
 * gRPC health and reflection) and returns once it listens.
 *
 * ```ts
 * const agent = await serveAgent({
 *   card: { name: "echo" },
 *   async *handler(turn) {
 *     yield "You said: ";
 *     yield turn.text;
 *   },
 * });
 * ```
 */
export async function serveAgent(opts: AgentOptions): Promise<RunningAgent> {
  const card = create(AgentCardSchema, opts.card);
  if (card.name === "") throw new Error("serveAgent: card.name is required");
  const health = new HealthStatus();
  const reflection = reflectionServices(
    new Reflector([AgentService.typeName, Health.typeName, ReflectionV1.typeName, ReflectionV1alpha.typeName]),
  );
  const routes = (router: ConnectRouter) => {
    router.service(AgentService, {
      describe: () => create(DescribeResponseSchema, { card }),
      handleTurn: (requests, ctx) => handleTurn(opts.handler, requests, ctx),
    });
    router.service(Health, healthService(health));
    router.service(ReflectionV1, reflection.v1);
    router.service(ReflectionV1alpha, reflection.v1alpha);
  };
  const host = opts.host ?? "127.0.0.1";
  const server = new HttpServer(connectNodeAdapter({ routes }), {
    host,
    port: opts.port ?? 0,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
  });
  const port = await server.listen();
  health.set("", ServingStatus.SERVING);
  health.set(AgentService.typeName, ServingStatus.SERVING);
  const url = `${opts.tls !== undefined ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let registration: Registration | undefined;
  if (opts.register !== undefined) {
    registration = new Registration(card, opts.register.endpoint ?? url, opts.register);
    try {
      await registration.start();
    } catch (e) {
      await server.close();
      throw e;
    }
  }
  return {
    card,
    port,
    url,
    health,
    instanceId: registration?.instanceId,
    async close() {
      // Leave the registry first, so no new turn is sent while the server stops.
      await registration?.stop();
      health.setAll(ServingStatus.NOT_SERVING);
      await server.close();
    },
  };
}

/**
 * handleTurn adapts a TurnHandler to the HandleTurn bidi stream.
 */
async function* handleTurn(
  handler: TurnHandler,
  requests: AsyncIterable<HandleTurnRequest>,
  ctx: HandlerContext,
): AsyncGenerator<HandleTurnResponse> {
  const it = requests[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true || first.value.kind.case !== "start") {
    throw new ConnectError("the first message of a HandleTurn stream must be `start`", Code.InvalidArgument);
  }
  const start = first.value.kind.value;
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // Unbounded by count, but a turn's input is bounded by the orchestrator's
  // limits; the reader below must not wait on the handler, or it would miss
  // a cancel.
  const input = new AsyncQueue<InputDelta>();
  // Read the rest of the request stream in the background: input deltas
  // for the handler, and a cancel that aborts it.
  void (async () => {
    try {
      for (let r = await it.next(); r.done !== true; r = await it.next()) {
        const kind = r.value.kind;
        if (kind.case === "input") input.push(kind.value);
        else if (kind.case === "cancel") cancel.abort(new ConnectError(kind.value.reason || "cancelled", Code.Canceled));
      }
    } catch {
      // The stream broke; ctx.signal tells the handler.
    } finally {
      input.end();
    }
  })();
  // The turn's time is the earlier of the gRPC deadline and start.budget;
  // when it runs out the handler is aborted like on a cancel.
  const limits = [ctx.timeoutMs(), start.budget ? durationMs(start.budget) : undefined].filter(
    (ms): ms is number => ms !== undefined && ms > 0,
  );
  const budget = limits.length > 0 ? Math.min(...limits) : 60_000;
  const expiry =
    limits.length > 0
      ? setTimeout(
          () => cancel.abort(new ConnectError(`the turn's budget of ${budget}ms ran out`, Code.DeadlineExceeded)),
          budget,
        )
      : undefined;
  const turn: Turn = {
    start,
    text: start.input?.text ?? "",
    signal: cancel.signal,
    deadline: new Date(Date.now() + budget),
    input,
  };
  // Every wait on the handler also ends when the turn is aborted, so a
  // handler that ignores the signal is left behind instead of holding the
  // stream open; its output goes nowhere.
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(ConnectError.from(cancel.signal.reason ?? new ConnectError("cancelled", Code.Canceled)));
    if (cancel.signal.aborted) fail();
    else cancel.signal.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => undefined);
  const orAbort = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  try {
    const out = handler(turn);
    let text = "";
    let final: AgentResultInit | string | void;
    if (isAsyncGenerator(out)) {
      let finished = false;
      try {
        for (let step = await orAbort(out.next()); ; step = await orAbort(out.next())) {
          if (cancel.signal.aborted) await aborted;
          if (step.done === true) {
            final = step.value;
            finished = true;
            break;
          }
          const delta = typeof step.value === "string" ? { text: step.value } : step.value;
          text += delta.text ?? "";
          yield create(HandleTurnResponseSchema, { kind: { case: "delta", value: delta } });
        }
      } finally {
        // Aborted, failed, or the stream went away: let the handler clean up
        // (its finally blocks) without waiting for it.
        if (!finished) void out.return(undefined).catch(() => undefined);
      }
    } else {
      final = await orAbort(out);
    }
    if (cancel.signal.aborted) await aborted;
    const result = create(AgentResultSchema, typeof final === "string" ? { text: final } : final ?? {});
    if (result.text === "") result.text = text;
    yield create(HandleTurnResponseSchema, { kind: { case: "result", value: result } });
  } finally {
    clearTimeout(expiry);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

function isAsyncGenerator(v: unknown): v is AsyncGenerator<unknown, unknown, void> {
  return typeof v === "object" && v !== null && typeof (v as AsyncGenerator).next === "function";
}
