import type { ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import { constants } from "node:http2";
import {
  create,
  type DescMessage,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, type Http2SessionManager } from "@connectrpc/connect-node";
import type { Compression } from "@connectrpc/connect/protocol";
import { codeFromHttpStatus, findTrailerError, parseContentType, requestHeader, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { drained } from "../wire/drained.js";
import { GrpcMessageReader } from "../wire/grpc-message-reader.js";
import { headersOf, outgoing } from "../wire/http2-headers.js";
import { guardIterable } from "../wire/guarded-iterable.js";
import { grpcFrame } from "../wire/message-encoder.js";
import { resetError } from "../wire/reset-error.js";
import { type Exchange, type Exchanger, exchangeTransport } from "./exchange-transport.js";

/**
 * GrpcStreamTransportOptions configure a transport over one HTTP/2
 * connection manager.
 */
export interface GrpcStreamTransportOptions {
  /** The server, e.g. "http://127.0.0.1:7001". */
  baseUrl: string;
  /** Opens (and keeps, pings, reopens) the connection the calls go out on. */
  sessionManager: Http2SessionManager;
  /** Interceptors, as for Connect's own transports. */
  interceptors?: Interceptor[];
  /** The largest reply message accepted (default: no limit below 4 GiB). */
  readMaxBytes?: number;
}

const replyCompressions: Record<string, Compression> = { gzip: compressionGzip, br: compressionBrotli };

/**
 * createGrpcStreamTransport returns a Connect Transport that speaks gRPC
 * (binary Protobuf) on Node's HTTP/2 stream API: clients made with
 * `createClient` keep Connect's API — async iterables, ConnectError,
 * interceptors, signals, timeouts (see exchangeTransport) — while each call is one request on a connection
 * from `sessionManager`, its messages framed here and read by
 * GrpcMessageReader. Connect's own gRPC transport does the same through a
 * chain of async-iterable transforms per call: on the orchestrator's agent
 * hop that chain cost more CPU than the call's HTTP/2 work
 * (bench/README.md). Messages are framed by grpcFrame, which allocates
 * once per message where protobuf-es's writer allocates per field. It asks for no compressed replies (an agent's replies
 * are small, and compressing them costs both sides) but reads gzip and
 * brotli if a server sends them.
 */
export function createGrpcStreamTransport(opts: GrpcStreamTransportOptions): Transport {
  const prefix = new URL(opts.baseUrl).pathname.replace(/\/+$/, "");
  const readMaxBytes = opts.readMaxBytes ?? 0xffffffff;
  const exchange: Exchanger = async (method, signal, timeoutMs, header, input) => {
    signal.throwIfAborted();
    const stream = await opts.sessionManager.request("POST", `${prefix}/${method.parent.typeName}/${method.name}`, outgoing(requestHeader(true, timeoutMs, header)), {});
    const trailer = new Headers();
    const reader = new GrpcMessageReader(
      stream,
      (bytes) => {
        try {
          return fromBinary(method.output, bytes);
        } catch (e) {
          throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
        }
      },
      null,
      readMaxBytes,
      () => opts.sessionManager.notifyResponseByteRead(stream),
    );
    const onAbort = () => {
      // Connect aborts every call's signal as the call finishes: a call
      // whose reply was read to its end and whose request side has ended
      // closes on its own, with nothing to cancel and no error to build.
      if (stream.readableEnded && stream.writableEnded) return;
      reader.fail(ConnectError.from(signal.reason, Code.Canceled));
      finish(stream, trailer);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    stream.once("close", () => signal.removeEventListener("abort", onAbort));
    const pending = reply(stream, reader, trailer);
    if (input.kind === "unary") stream.end(grpcFrame(method.input, input.message));
    else void pump(input.messages, stream, method.input);
    return pending;
  };
  return exchangeTransport(opts.baseUrl, opts.interceptors ?? [], exchange);
}

/**
 * finish ends a call's stream once the call is over for the client (its
 * signal aborted: the reply was read to its end, failed, was cancelled or
 * ran past its deadline). A call given up while the server still works on
 * it is reset with CANCEL, as gRPC specifies for a client's cancel. A call
 * the server already ended (its status arrived) while the request side was
 * still open — an agent failing a turn on its first message, or the caller
 * ending its requests only after reading the reply — is not reset: only
 * its request side is ended, which closes the stream. A reset there would
 * say nothing the server needs, and Node's HTTP/2 server (nghttp2 1.57 and
 * later, its guard against "rapid reset" floods) answers more than 1000
 * resets in a burst (refilled at 33 a second) with GOAWAY INTERNAL_ERROR,
 * which fails every call on the connection. Request bytes still waiting for
 * flow control the server may never grant again do need the reset.
 */
function finish(stream: ClientHttp2Stream, trailer: Headers): void {
  if (stream.closed) return;
  // The status came in the response headers (trailers-only), in the
  // trailers, or the reply was read to its end.
  const answered = stream.endAfterHeaders || trailer.has("grpc-status") || stream.readableEnded;
  if (answered && stream.writableLength === 0) {
    if (!stream.writableEnded) stream.end();
    // Whatever of the reply is still unread is read and dropped, so the
    // stream can close.
    stream.resume();
  } else stream.close(constants.NGHTTP2_CANCEL);
}

/**
 * reply resolves once the server's response headers arrive (or rejects
 * with the call's status when it fails before any message), and yields the
 * reply messages as they come, ending with the status in the trailers
 * (which it puts in `trailer`).
 */
function reply<O extends DescMessage>(stream: ClientHttp2Stream, reader: GrpcMessageReader<MessageShape<O>>, trailer: Headers): Promise<Exchange<O>> {
  return new Promise((resolve, reject) => {
    const fail = (err: ConnectError) => {
      reader.fail(err);
      reject(err);
    };
    stream.on("error", (e: Error) => {
      // The server answered and closed while the request was still being
      // written: what it answered is what counts.
      if (stream.writableEnded && (e as { code?: unknown }).code === "ERR_STREAM_WRITE_AFTER_END") return;
      // A stream the server reset: its code says what happened (REFUSED_STREAM
      // is UNAVAILABLE, CANCEL is CANCELED), the error stays the cause.
      const reset = (e as { code?: unknown }).code === "ERR_HTTP2_STREAM_ERROR" ? resetError(stream.rstCode, e) : undefined;
      fail(reset ?? streamError(e));
    });
    stream.once("close", () => {
      const err = resetError(stream.rstCode);
      if (err !== undefined) fail(err);
    });
    stream.once("trailers", (t: IncomingHttpHeaders) => headersOf(t, trailer));
    stream.once("response", (h: IncomingHttpHeaders) => {
      const status = Number(h[":status"] ?? 0);
      const header = headersOf(h);
      if (status !== 200) return fail(new ConnectError(`HTTP ${status}`, codeFromHttpStatus(status), header));
      if (parseContentType(header.get("content-type")) === undefined) {
        return fail(new ConnectError(`unsupported content type ${header.get("content-type") ?? "(none)"}`, Code.Unknown));
      }
      // A status in the headers is a trailers-only reply: no messages follow.
      if (header.has("grpc-status")) {
        const err = findTrailerError(header);
        if (err !== undefined) return fail(err);
      }
      const encoding = header.get("grpc-encoding");
      if (encoding !== null && encoding !== "identity") {
        const compression = replyCompressions[encoding];
        if (compression === undefined) return fail(new ConnectError(`the server compressed its reply with ${encoding}, which this client does not read`, Code.Internal));
        reader.decompressWith(compression);
      }
      resolve({ header, trailer, messages: messages(reader, header, trailer) });
    });
  });
}

/** messages yields the reply messages, then checks the status in the trailers. */
function messages<O extends DescMessage>(reader: GrpcMessageReader<MessageShape<O>>, header: Headers, trailer: Headers): AsyncIterable<MessageShape<O>> {
  return guardIterable(reader, { end: () => validateTrailer(trailer, header) });
}

/**
 * pump writes the request messages to the stream, waiting when HTTP/2
 * flow control holds it, and ends the request after the last one. A
 * request iterable that fails cancels the call.
 */
async function pump<I extends DescMessage>(input: AsyncIterable<MessageShape<I>>, stream: ClientHttp2Stream, schema: I): Promise<void> {
  try {
    for await (const m of input) {
      // Nothing more is sent once the stream closed or the call ended it (finish).
      if (stream.closed || stream.destroyed || stream.writableEnded) return;
      const message = isMessage(m, schema) ? m : create(schema, m as MessageInitShape<I>);
      if (!stream.write(grpcFrame(schema, message))) await drained(stream, "close");
    }
    if (!stream.closed && !stream.destroyed && !stream.writableEnded) stream.end();
  } catch {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  }
}

/**
 * streamError maps a Node stream or connection error to a ConnectError,
 * as Connect's Node client does, keeping the error as the cause (the mesh
 * reads its code to tell a broken connection from an agent's answer).
 */
function streamError(e: Error): ConnectError {
  if (e instanceof ConnectError) return e;
  const code = String((e as { code?: unknown }).code ?? "");
  const connectCode =
    code === "ERR_STREAM_DESTROYED" || code === "ERR_HTTP2_INVALID_STREAM" || code === "ECONNRESET" || code === "ERR_STREAM_WRITE_AFTER_END"
      ? Code.Aborted
      : code === "ETIMEDOUT" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "ECONNREFUSED"
        ? Code.Unavailable
        : Code.Internal;
  return new ConnectError(e.message, connectCode, undefined, undefined, e);
}
