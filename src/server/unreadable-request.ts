import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { endStreamFlag } from "@connectrpc/connect/protocol-connect";
import type { DescMethod, JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";

// A request body the server cannot read is the client's fault: it gets
// INVALID_ARGUMENT, with a message that says what is wrong with the bytes,
// never INTERNAL (which clients retry as a server failure) and never a
// body quietly repaired.

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * requestJsonOptions are the JSON options of every handler. Connect's JSON
 * serialization decodes a body with the `textDecoder` of these options
 * (createJsonSerialization), and its default decoder replaces bytes that
 * are not UTF-8 with U+FFFD, so a client's broken string would be stored
 * as something it never sent. This one refuses them.
 */
export const requestJsonOptions: Partial<JsonReadOptions & JsonWriteOptions> & { textDecoder: { decode(input?: Uint8Array): string } } = {
  // Connect's default, stated because this object replaces its defaults.
  ignoreUnknownFields: true,
  textDecoder: {
    decode(input?: Uint8Array): string {
      try {
        return fatalUtf8.decode(input);
      } catch {
        throw new ConnectError(
          "the request body is not valid UTF-8: JSON must be encoded in UTF-8 (RFC 8259); check how the client encodes its strings",
          Code.InvalidArgument,
        );
      }
    },
  },
};

// Request-side failures Connect reports as INTERNAL: a body that is not
// the method's message, and a message flagged compressed without an
// encoding. Connect's own messages, matched at their start.
const parseBinary = "parse binary: ";
const compressedEnvelope = "received compressed envelope";

function isRequestFailure(message: string): boolean {
  return message.startsWith(parseBinary) || message.startsWith(compressedEnvelope);
}

/**
 * clientMessage restates a request-side failure as what the client can
 * fix; `inputType` is the method's request message.
 */
function clientMessage(message: string, inputType: string): string {
  if (message.startsWith(parseBinary)) {
    return `the request body is not a valid ${inputType} in the Protobuf binary format (${message.slice(parseBinary.length)}); check that the client uses the same .proto and that the content-type names the body's encoding`;
  }
  return `${message}: the message is flagged compressed but the request names no compression; name it in the encoding header or send the message uncompressed`;
}

const encoder = new TextEncoder();

/**
 * parseFailure is the error Connect's binary serialization raises for a
 * body that is not the method's message.
 */
export function parseFailure(e: unknown): ConnectError {
  return new ConnectError(`${parseBinary}${e instanceof Error ? e.message : String(e)}`, Code.Internal);
}

/**
 * asClientError restates a request-side failure (see isRequestFailure) as
 * INVALID_ARGUMENT with what the client can fix; any other error is
 * returned as it is. `inputType` is the method's request message.
 */
export function asClientError(error: ConnectError, inputType: string): ConnectError {
  if (error.code !== Code.Internal || !isRequestFailure(error.rawMessage)) return error;
  return new ConnectError(clientMessage(error.rawMessage, inputType), Code.InvalidArgument);
}

/**
 * requestErrorsAsInvalidArgument rewrites a request-parse failure in a
 * response from INTERNAL to INVALID_ARGUMENT, in the place each protocol
 * carries it: the gRPC trailer, the Connect unary error body (with its
 * Content-Length set anew) and the Connect end-of-stream message. gRPC-Web
 * carries its status inside the body and keeps INTERNAL.
 */
export async function requestErrorsAsInvalidArgument(res: UniversalServerResponse, method: DescMethod): Promise<UniversalServerResponse> {
  const inputType = method.input.typeName;
  const body = res.body;
  const trailer = res.trailer;
  if (trailer !== undefined) {
    // gRPC: the status is in the trailer, which is complete once the body
    // has gone out (or already, for an error before any message).
    const fixTrailer = () => {
      if (trailer.get("grpc-status") !== String(Code.Internal)) return;
      const message = decodeURIComponent(trailer.get("grpc-message") ?? "");
      if (!isRequestFailure(message)) return;
      trailer.set("grpc-status", String(Code.InvalidArgument));
      trailer.set("grpc-message", encodeURIComponent(clientMessage(message, inputType)));
    };
    fixTrailer();
    if (body === undefined) return res;
    return {
      ...res,
      body: (async function* () {
        yield* body;
        fixTrailer();
      })(),
    };
  }
  if (body === undefined) return res;
  if (res.status === 500) {
    const header = headersOf(res);
    // A compressed error is left as it is: it is complete, only its code
    // is the wrong one (Connect compresses nothing as short as these).
    if (!(header.get("content-type") ?? "").startsWith("application/json") || header.has("content-encoding")) return res;
    // A Connect unary error: a small JSON body, read whole before the
    // status goes out.
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    const err = asInvalidArgument(parseJson(bytes), inputType);
    if (err === undefined) return { ...res, body: once(bytes) };
    const fixed = encoder.encode(JSON.stringify(err));
    // Connect set the Content-Length of the body it wrote; this one is longer.
    header.set("content-length", String(fixed.byteLength));
    return { ...res, status: 400, header, body: once(fixed) };
  }
  // A Connect stream ends with a message that carries its status; a unary
  // call that succeeded, and gRPC-Web, go out as they are.
  if (method.methodKind === "unary" || !(headersOf(res).get("content-type") ?? "").startsWith("application/connect+")) return res;
  return {
    ...res,
    body: (async function* () {
      // Connect writes each message, and the end of the stream, as one chunk.
      for await (const chunk of body) yield chunk[0] === endStreamFlag ? (fixEndStream(chunk, inputType) ?? chunk) : chunk;
    })(),
  };
}

// Connect's handlers answer with a Headers, used as it is.
const headersOf = (res: UniversalServerResponse): Headers => (res.header instanceof Headers ? res.header : new Headers(res.header));

/**
 * asInvalidArgument returns a Connect error (as JSON) that was a request
 * failure, made INVALID_ARGUMENT; undefined for any other value.
 */
function asInvalidArgument(err: unknown, inputType: string): object | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code !== "internal" || typeof message !== "string" || !isRequestFailure(message)) return undefined;
  return { ...err, code: "invalid_argument", message: clientMessage(message, inputType) };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * fixEndStream returns a Connect end-of-stream envelope whose error was a
 * request failure, made INVALID_ARGUMENT; undefined leaves it as it is.
 */
function fixEndStream(envelope: Uint8Array, inputType: string): Uint8Array | undefined {
  if (envelope.byteLength < 5) return undefined;
  const view = new DataView(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  if (view.getUint32(1) !== envelope.byteLength - 5) return undefined;
  const end = parseJson(envelope.subarray(5)) as { error?: unknown } | undefined;
  const err = asInvalidArgument(end?.error, inputType);
  if (err === undefined) return undefined;
  return encodeEnvelope(endStreamFlag, encoder.encode(JSON.stringify({ ...end, error: err })));
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
