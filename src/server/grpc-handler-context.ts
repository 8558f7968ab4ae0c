import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";

// An idle stream (a Converse waiting for the caller, a WatchSession) keeps
// its context for as long as it is open, and one process holds 100,000 of
// them. Connect's createHandlerContext gives each two AbortControllers
// (the deadline's and a linked one), copies the request headers, and
// makes the response headers and trailers up front; createContextValues
// makes three functions per call. These do the same with one controller,
// methods on the prototype, and headers made when first used.

/**
 * CallValues is a ContextValues with its methods on the prototype; values
 * live on the object under their keys' symbols, as in Connect's.
 */
export class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? ((this as unknown as Record<symbol, T>)[key.id] as T) : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

const noTimeout = () => undefined;

// The reason a call's signal gives once the call is over: one shared value,
// where aborting with none would make a DOMException per call.
const callEnded = new ConnectError("the call has ended", Code.Canceled);

/**
 * GrpcHandlerContext is the HandlerContext of a gRPC call served on an
 * HTTP/2 stream. Its signal aborts at the deadline (DEADLINE_EXCEEDED),
 * when the call is aborted, and when it ends.
 */
export class GrpcHandlerContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly signal: AbortSignal;
  readonly timeoutMs: () => number | undefined;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private header: Headers | undefined;
  private trailer: Headers | undefined;
  /** The context itself, also as seen from an overlay made by `with`. */
  private readonly base: GrpcHandlerContext = this;
  /**
   * onAbort is told the reason when the signal aborts: the server's own
   * hook, where a listener on the signal would give every call's signal
   * its listener tables for as long as the call is open.
   */
  onAbort: ((reason: unknown) => void) | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    readonly requestHeader: Headers,
    readonly values: ContextValues,
    private readonly authority: string,
    timeoutMs: number | undefined,
  ) {
    this.signal = this.controller.signal;
    if (timeoutMs === undefined) {
      this.timeoutMs = noTimeout;
    } else {
      const deadline = Date.now() + timeoutMs;
      this.timeoutMs = () => deadline - Date.now();
      const expire = () => this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      if (timeoutMs <= 0) expire();
      else this.timer = setTimeout(expire, timeoutMs);
    }
  }

  get url(): string {
    return `http://${this.authority}/${this.service.typeName}/${this.method.name}`;
  }

  get responseHeader(): Headers {
    return (this.base.header ??= new Headers({ "content-type": "application/grpc+proto" }));
  }

  get responseTrailer(): Headers {
    return (this.base.trailer ??= new Headers({ "grpc-status": "0" }));
  }

  /**
   * headersSent lets go of the response headers once they are on the wire:
   * what changes them afterwards changes nothing the client sees.
   */
  headersSent(): void {
    this.header = undefined;
  }

  /** abort ends the signal with `reason`, or as ended when none is given (and stops the deadline). */
  abort(reason?: unknown): void {
    clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason ?? callEnded);
    this.onAbort?.(this.controller.signal.reason);
  }

  /**
   * with returns this context seen through what an interceptor replaced:
   * the request headers, the values or the signal.
   */
  with(header: Headers, values: ContextValues, signal: AbortSignal): HandlerContext {
    if (header === this.requestHeader && values === this.values && signal === this.signal) return this;
    return Object.assign(Object.create(this) as HandlerContext, { requestHeader: header, values, signal });
  }
}
