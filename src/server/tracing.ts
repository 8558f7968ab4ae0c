import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Context,
  context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { TurnRequest } from "../core/turn-request.js";
import { codeName } from "../core/errors.js";

/**
 * tracerName is the instrumentation scope of Switchboard's spans.
 */
export const tracerName = "switchboard";

/**
 * tracer returns Switchboard's tracer from the global tracer provider: a
 * no-op until the application registers an OpenTelemetry SDK.
 */
export function tracer(): Tracer {
  return trace.getTracer(tracerName);
}

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * parseTraceparent reads a W3C `traceparent` header (and `tracestate`),
 * or returns undefined for a missing or malformed one.
 */
export function parseTraceparent(traceparent: string | null, tracestate?: string | null): SpanContext | undefined {
  if (traceparent === null) return undefined;
  const m = traceparentPattern.exec(traceparent.trim().toLowerCase());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16) & 1,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  };
}

/**
 * formatTraceparent writes a span context as a W3C `traceparent` value.
 */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, "0")}`;
}

/**
 * TurnScope is what the code below a turn (store and agent calls, logs)
 * knows about the turn it runs for.
 */
export interface TurnScope {
  /** The turn's span. */
  readonly span: Span;
  /** The turn's context (its span as the parent of child spans). */
  readonly context: Context;
  /** The turn as requested, for log lines. */
  readonly turn?: TurnRequest;
}

const turnScopes = new AsyncLocalStorage<TurnScope>();

/**
 * currentTurn returns the scope of the turn the caller runs for, if any.
 */
export function currentTurn(): TurnScope | undefined {
  return turnScopes.getStore();
}

/**
 * currentTraceId returns the trace id of the current turn, for logs; empty when
 * the trace is not sampled or there is no turn.
 */
export function currentTraceId(): string {
  const sc = turnScopes.getStore()?.span.spanContext();
  return sc !== undefined && trace.isSpanContextValid(sc) ? sc.traceId : "";
}

/**
 * traceTurn runs a turn as a span that continues the caller's trace
 * (`traceparent` and `tracestate` request headers) and ends when the turn
 * ends. Store and agent spans started during the turn are its children;
 * `errorOf` tells a result that is a failure (the span is marked failed).
 */
export async function traceTurn<T>(
  headers: Headers,
  attributes: Record<string, string>,
  run: (span: Span) => Promise<T>,
  turn?: TurnRequest,
  errorOf?: (result: T) => unknown,
): Promise<T> {
  const remote = parseTraceparent(headers.get("traceparent"), headers.get("tracestate"));
  const parent = remote !== undefined ? trace.setSpanContext(ROOT_CONTEXT, remote) : context.active();
  const span = tracer().startSpan("switchboard.turn", { kind: SpanKind.SERVER, attributes }, parent);
  // A span that is not recorded (no SDK) still carries the caller's ids, so
  // the agent continues the gateway's trace either way.
  const ctx = trace.setSpan(parent, span);
  try {
    const result = await turnScopes.run({ span, context: ctx, ...(turn !== undefined ? { turn } : {}) }, () => context.with(ctx, () => run(span)));
    const failed = errorOf?.(result);
    if (failed !== undefined) failSpan(span, failed);
    else span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (e) {
    failSpan(span, e);
    throw e;
  } finally {
    span.end();
  }
}

/**
 * childSpan starts a span under the current turn's span (or the active
 * context outside a turn).
 */
export function childSpan(name: string, kind: SpanKind, attributes: Record<string, string | number>): Span {
  const parent = turnScopes.getStore()?.context ?? context.active();
  return tracer().startSpan(name, { kind, attributes }, parent);
}

/**
 * failSpan marks a span as failed with the error's gRPC code.
 */
export function failSpan(span: Span, e: unknown): void {
  const err = ConnectError.from(e);
  span.setAttribute("rpc.grpc.status_code", err.code);
  span.setAttribute("switchboard.error.code", codeName(err.code));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.rawMessage });
}

const outgoing = new AsyncLocalStorage<string>();

/**
 * withOutgoingTraceparent runs `fn` so that calls it makes through a
 * transport with traceHeaderInterceptor carry `traceparent`.
 */
export function withOutgoingTraceparent<T>(traceparent: string, fn: () => T): T {
  return outgoing.run(traceparent, fn);
}

/**
 * traceHeaderInterceptor sets the `traceparent` request header of
 * outgoing calls made inside withOutgoingTraceparent.
 */
export const traceHeaderInterceptor: Interceptor = (next) => (req) => {
  const traceparent = outgoing.getStore();
  if (traceparent !== undefined) req.header.set("traceparent", traceparent);
  return next(req);
};
