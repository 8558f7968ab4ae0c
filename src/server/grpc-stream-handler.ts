import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { constants } from "node:http2";
import { create, fromBinary, isMessage, type DescMessage, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type ConnectRouter,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  encodeEnvelope,
  envelopeCompress,
  type EnvelopedMessage,
} from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { CallValues, GrpcHandlerContext } from "./grpc-handler-context.js";
import { drained } from "../wire/drained.js";
import { GrpcMessageReader } from "../wire/grpc-message-reader.js";
import { grpcFrame } from "../wire/message-encoder.js";
import { headersOf, outgoing } from "../wire/http2-headers.js";
import { resetError } from "../wire/reset-error.js";
import { peerKey } from "./identity.js";
import { asClientError, parseFailure } from "./unreadable-request.js";

/**
 * GrpcStreamHandler serves one HTTP/2 stream if it is a gRPC call (POST,
 * content-type application/grpc or application/grpc+proto) and returns
 * true; it returns false, touching nothing, for any other request.
 */
export type GrpcStreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

/**
 * GrpcStreamOptions are the settings Connect's router takes for the same
 * services, so a call behaves alike on both paths.
 */
export interface GrpcStreamOptions {
  interceptors: Interceptor[];
  readMaxBytes: number;
  compressMinBytes: number;
  acceptCompression: Compression[];
}

const grpcContentType = /^application\/grpc(\+proto)?(;|$)/;

/**
 * grpcStreamHandler serves the gRPC protocol (binary Protobuf) for every
 * service that `routes` registers, on Node's HTTP/2 stream API, beside
 * Connect's router for the same registration.
 *
 * Why not Connect's own handler for gRPC too: it runs on Node's HTTP/2
 * compatibility layer (a request and a response object per call) and
 * moves each message through a chain of async-iterable transforms; on
 * scenario C that was most of the orchestrator's CPU per turn outside
 * Switchboard's own work. Why not grpc-js's server: it takes whole
 * connections, and one connection carries Connect, gRPC-Web and gRPC
 * requests alike, told apart only by each request's content-type — long
 * after the server must have answered the connection's SETTINGS (gRPC-Go
 * clients wait for them); its entry point for a single stream is private.
 *
 * What is Connect's stays Connect's: the implementations run behind the
 * interceptors with a `HandlerContext`, as Connect's
 * `invokeUnaryImplementation` and `transformInvokeImplementation` run them
 * (minus the generators those wrap a call in), the deadline comes from `parseTimeout`, the status, message and details
 * go into the trailers through `setTrailerStatus`, and compression is
 * negotiated and applied by Connect's functions. This module only frames
 * messages and moves them between the stream and the implementation.
 */
export function grpcStreamHandler(routes: (router: ConnectRouter) => void, opts: GrpcStreamOptions): GrpcStreamHandler {
  const methods = new Map<string, MethodImplSpec>();
  routes({
    service(service, impl) {
      const spec = createServiceImplSpec(service, impl);
      for (const method of Object.values(spec.methods)) methods.set(`/${service.typeName}/${method.method.name}`, method);
      return this;
    },
    rpc() {
      throw new Error("grpcStreamHandler: register whole services with router.service");
    },
    handlers: [],
  } as ConnectRouter);
  return (stream, headers) => {
    if (headers[":method"] !== "POST" || !grpcContentType.test(headers["content-type"] ?? "")) return false;
    const path = headers[":path"] ?? "";
    const spec = methods.get(path);
    if (spec === undefined) {
      // What gRPC servers answer for a method they do not have.
      respondTrailersOnly(stream, new Headers(), setTrailerStatus(new Headers(), new ConnectError(`${path} is not a method this server serves`, Code.Unimplemented)));
      return true;
    }
    serveCall(stream, headers, spec, opts);
    return true;
  };
}

/** ignore is the stream's "error" listener: an error is followed by "close", which ends the call. */
const ignore = () => undefined;

// What an idle stream holds matters (one process holds 100,000): below,
// listeners are added with `on`, not `once` (each event comes once anyway,
// and `once` wraps every listener in two more objects), the call's signal
// gets no listener of its own (the context's hook), and the response
// headers are let go of once sent.
function serveCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, spec: MethodImplSpec, opts: GrpcStreamOptions): void {
  stream.on("error", ignore);
  const requestHeader = headersOf(headers);
  const timeout = parseTimeout(requestHeader.get("grpc-timeout"), Number.MAX_SAFE_INTEGER);
  const values = new CallValues();
  values.set(peerKey, stream.session?.socket?.remoteAddress ?? "");
  const ctx = new GrpcHandlerContext(spec.method.parent, spec.method, requestHeader, values, headers[":authority"] ?? "localhost", timeout.timeoutMs);
  const compression = compressionNegotiate(opts.acceptCompression, requestHeader.get("grpc-encoding"), requestHeader.get("grpc-accept-encoding"), "grpc-accept-encoding");

  const input = spec.method.input as DescMessage;
  const reader = new GrpcMessageReader<Message>(
    stream,
    (bytes) => {
      try {
        return fromBinary(input, bytes);
      } catch (e) {
        throw asClientError(parseFailure(e), input.typeName);
      }
    },
    compression.request,
    opts.readMaxBytes,
  );
  let finished = false;
  stream.on("close", () => {
    if (finished) return;
    const reason = resetError(stream.rstCode) ?? new ConnectError("the client closed the stream", Code.Canceled);
    ctx.abort(reason);
    reader.fail(reason);
  });
  ctx.onAbort = (reason) => reader.fail(reason);
  if (ctx.signal.aborted) reader.fail(ctx.signal.reason);
  const early = compression.error ?? timeout.error;
  if (early !== undefined) reader.fail(early);

  const output = spec.method.output as DescMessage;
  let headersSent = false;
  // A streaming call's header and trailer as the interceptors returned
  // them: the header until it is sent, the trailer until the call ends.
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const send = async (message: Message): Promise<void> => {
    if (stream.destroyed) throw ctx.signal.reason ?? new ConnectError("the client closed the stream", Code.Canceled);
    let frame = grpcFrame(output, message);
    if (compression.response !== null && frame.byteLength - 5 >= opts.compressMinBytes) frame = await compressed(frame, compression.response, opts.compressMinBytes);
    if (!headersSent) {
      if (header !== undefined) copyHeaders(header, ctx.responseHeader);
      stream.respond(responseHeaders(ctx.responseHeader, compression.response), { waitForTrailers: true });
      headersSent = true;
      // Sent headers do not change: an open stream holds them no longer.
      header = undefined;
      ctx.headersSent();
    }
    if (!stream.write(frame)) await drained(stream, "close");
  };
  void (async () => {
    let failure: ConnectError | undefined;
    try {
      if (early !== undefined) throw early;
      if (spec.kind === "unary") {
        await send(await invokeUnary(spec, ctx, await single(reader, spec.kind), opts.interceptors));
      } else {
        let messages: AsyncIterable<unknown>;
        // (Destructured, not kept: the response would hold the sent header.)
        ({ header, trailer, message: messages } = await invokeStreaming(spec, ctx, reader, opts.interceptors));
        for await (const message of messages) {
          await send(normalize(output, message));
        }
        copyHeaders(trailer, ctx.responseTrailer);
      }
    } catch (e) {
      failure = e instanceof ConnectError ? asClientError(e, input.typeName) : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
    }
    finished = true;
    ctx.abort(failure);
    if (stream.destroyed || stream.closed) return;
    if (failure !== undefined) setTrailerStatus(ctx.responseTrailer, failure);
    if (!headersSent) {
      if (header !== undefined) copyHeaders(header, ctx.responseHeader);
      respondTrailersOnly(stream, ctx.responseHeader, ctx.responseTrailer);
      return;
    }
    stream.once("wantTrailers", () => stream.sendTrailers(outgoing(ctx.responseTrailer)));
    stream.end();
  })();
}

/**
 * invokeStreaming runs a streaming method's implementation behind the
 * interceptors, as Connect's `transformInvokeImplementation` does, but
 * with the implementation's own iterable as the reply: no generator
 * around it per call, which an idle stream would hold for its lifetime.
 */
async function invokeStreaming(
  spec: Exclude<MethodImplSpec, { kind: "unary" }>,
  ctx: GrpcHandlerContext,
  requests: AsyncIterable<Message>,
  interceptors: Interceptor[],
): Promise<StreamResponse<DescMessage, DescMessage>> {
  const call: StreamingFn = async (req) => {
    const context = ctx.with(req.header, req.contextValues, req.signal);
    const message =
      spec.kind === "bidi_streaming"
        ? spec.impl(req.message, context)
        : spec.kind === "server_streaming"
          ? spec.impl(await single(req.message, spec.kind), context)
          : [await spec.impl(req.message, context)];
    return { stream: true, service: spec.method.parent, method: spec.method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message: message as AsyncIterable<Message> };
  };
  return intercepted(interceptors, call)({ stream: true, ...requestOf(ctx), message: requests } as StreamRequest<DescMessage, DescMessage>);
}

type StreamingFn = (req: StreamRequest<DescMessage, DescMessage>) => Promise<StreamResponse<DescMessage, DescMessage>>;
type UnaryFn = (req: UnaryRequest<DescMessage, DescMessage>) => Promise<UnaryResponse<DescMessage, DescMessage>>;

/** requestOf is what the interceptors see of a call, besides its message. */
function requestOf(ctx: GrpcHandlerContext) {
  return {
    service: ctx.service,
    method: ctx.method,
    requestMethod: "POST",
    url: ctx.url,
    signal: ctx.signal,
    header: ctx.requestHeader,
    contextValues: ctx.values,
  };
}

/** intercepted wraps `call` in the interceptors, the first outermost, as Connect's applyInterceptors does. */
function intercepted<F extends StreamingFn | UnaryFn>(interceptors: Interceptor[], call: F): F {
  return interceptors.reduceRight<F>((inner, interceptor) => interceptor(inner as never) as unknown as F, call);
}

/**
 * invokeUnary runs a unary method's implementation behind the
 * interceptors, as Connect's `invokeUnaryImplementation` does.
 */
async function invokeUnary(spec: Extract<MethodImplSpec, { kind: "unary" }>, ctx: GrpcHandlerContext, request: Message, interceptors: Interceptor[]): Promise<Message> {
  const output = spec.method.output as DescMessage;
  const call: UnaryFn = async (req) => ({
    stream: false,
    service: spec.method.parent,
    method: spec.method,
    header: ctx.responseHeader,
    trailer: ctx.responseTrailer,
    message: normalize(output, await spec.impl(req.message as never, ctx.with(req.header, req.contextValues, req.signal))),
  });
  const res = await intercepted(interceptors, call)({ stream: false, ...requestOf(ctx), message: request } as UnaryRequest<DescMessage, DescMessage>);
  copyHeaders(res.header, ctx.responseHeader);
  copyHeaders(res.trailer, ctx.responseTrailer);
  return res.message;
}

/** normalize makes a message of what an implementation returned (a message or its init shape). */
function normalize(schema: DescMessage, value: unknown): Message {
  return isMessage(value, schema) ? value : create(schema, value as MessageInitShape<DescMessage>);
}

/**
 * single reads the one request message of a unary or server-streaming
 * call, with Connect's statuses for none or more than one.
 */
async function single(requests: AsyncIterable<Message>, kind: string): Promise<Message> {
  const it = requests[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done === true) throw new ConnectError(`protocol error: missing input message for ${kind.replace("_", "-")} method`, Code.Unimplemented);
  const second = await it.next();
  if (second.done !== true) throw new ConnectError(`protocol error: received extra input message for ${kind.replace("_", "-")} method`, Code.Unimplemented);
  return first.value;
}

/** copyHeaders makes `to` what `from` is, as Connect does with what interceptors return. */
function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const name of [...to.keys()]) to.delete(name);
  from.forEach((value, name) => to.set(name, value));
}

/** compressed is a gRPC frame with its message compressed. */
async function compressed(frame: Uint8Array, compression: Compression, minBytes: number): Promise<Uint8Array> {
  const envelope: EnvelopedMessage = await envelopeCompress({ flags: 0, data: frame.subarray(5) }, compression, minBytes);
  return encodeEnvelope(envelope.flags, envelope.data);
}

/**
 * responseHeaders are the HTTP/2 headers of a reply: status 200, `header`
 * and the encoding of its messages.
 */
function responseHeaders(header: Headers, compression: Compression | null): OutgoingHttpHeaders {
  const out = outgoing(header, { [constants.HTTP2_HEADER_STATUS]: 200 });
  if (compression !== null) out["grpc-encoding"] = compression.name;
  return out;
}

/**
 * respondTrailersOnly answers with one HEADERS frame that ends the stream
 * and carries the status: gRPC's reply for a call that fails before its
 * first message.
 */
function respondTrailersOnly(stream: ServerHttp2Stream, header: Headers, trailer: Headers): void {
  const out = outgoing(header, { [constants.HTTP2_HEADER_STATUS]: 200, "content-type": "application/grpc+proto" });
  stream.respond(outgoing(trailer, out), { endStream: true });
}
