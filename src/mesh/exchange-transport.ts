import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";

/**
 * Exchange is a call whose response headers arrived: its reply messages
 * follow, and its trailers are filled in when the call ends.
 */
export interface Exchange<O extends DescMessage> {
  header: Headers;
  trailer: Headers;
  messages: AsyncIterable<MessageShape<O>>;
}

/** ExchangeInput is what a call sends: one message, or a stream of them. */
export type ExchangeInput<I extends DescMessage> =
  | { kind: "unary"; message: MessageShape<I> }
  | { kind: "stream"; messages: AsyncIterable<MessageShape<I>> };

/**
 * Exchanger puts one call on the wire: it sends the input, and resolves
 * once the reply's headers arrive (or rejects with the call's error). The
 * signal ends the call when it aborts.
 */
export type Exchanger = <I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O> | DescMethodStreaming<I, O>,
  signal: AbortSignal,
  timeoutMs: number | undefined,
  header: Headers,
  input: ExchangeInput<I>,
) => Promise<Exchange<O>>;

/**
 * exchangeTransport is a Connect Transport whose calls go out through
 * `exchange`: Connect's `runUnaryCall` and `runStreamingCall` run the
 * interceptors, signals and timeouts, so the wire below can be anything
 * that speaks gRPC (a grpc-js channel, Node's HTTP/2 streams).
 */
export function exchangeTransport(baseUrl: string, interceptors: Interceptor[], exchange: Exchanger): Transport {
  const base = baseUrl.replace(/\/+$/, "");
  const request = <M extends DescMethodUnary | DescMethodStreaming>(
    method: M,
    header: ConstructorParameters<typeof Headers>[0],
    contextValues: ContextValues | undefined,
  ) => ({
    service: method.parent,
    method,
    requestMethod: "POST",
    url: `${base}/${method.parent.typeName}/${method.name}`,
    header: new Headers(header),
    contextValues: contextValues ?? createContextValues(),
  });
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: ConstructorParameters<typeof Headers>[0],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      return runUnaryCall<I, O>({
        interceptors,
        ...(signal ? { signal } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        req: { stream: false, ...request(method, header, contextValues), message: input },
        next: async (req: UnaryRequest<I, O>): Promise<UnaryResponse<I, O>> => {
          const ex = await exchange(req.method, req.signal, timeoutMs, req.header, { kind: "unary", message: req.message });
          const messages: MessageShape<O>[] = [];
          for await (const m of ex.messages) messages.push(m);
          const [message] = messages;
          if (message === undefined || messages.length > 1) {
            throw new ConnectError(`protocol error: ${method.parent.typeName}/${method.name} is unary and got ${messages.length} reply messages`, Code.Unimplemented);
          }
          return { stream: false, service: req.service, method: req.method, header: ex.header, trailer: ex.trailer, message };
        },
      });
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: ConstructorParameters<typeof Headers>[0],
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      return runStreamingCall<I, O>({
        interceptors,
        ...(signal ? { signal } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        req: { stream: true, ...request(method, header, contextValues), message: input },
        next: async (req: StreamRequest<I, O>): Promise<StreamResponse<I, O>> => {
          const ex = await exchange(req.method, req.signal, timeoutMs, req.header, { kind: "stream", messages: req.message });
          return { stream: true, service: req.service, method: req.method, header: ex.header, trailer: ex.trailer, message: ex.messages };
        },
      });
    },
  };
}
