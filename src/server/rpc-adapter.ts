import { Code, ConnectError, createConnectRouter, createContextValues } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  type ConnectNodeAdapterOptions,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { RequestHandler } from "./http-server.js";
import { peerKey } from "./identity.js";

/**
 * rpcHandler is connectNodeAdapter with two additions: it records the
 * caller's address for per-client limits, and it answers a request body
 * that does not parse as its Protobuf message with INVALID_ARGUMENT, not
 * the INTERNAL Connect reports for it (the bytes are the client's fault,
 * and clients must not retry them as a server failure). The rewrite covers
 * gRPC and the Connect protocol's unary calls; gRPC-Web keeps INTERNAL.
 */
export function rpcHandler(options: ConnectNodeAdapterOptions): RequestHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const values = options.contextValues?.(req) ?? createContextValues();
    values.set(peerKey, req.socket?.remoteAddress ?? "");
    const uReq = universalRequestFromNodeRequest(req, res, undefined, values);
    handler(uReq)
      .then(async (uRes) => universalResponseToNodeResponse(await requestErrorsAsInvalidArgument(uRes), res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        // The response could not be written (the client went away); there
        // is nobody left to tell.
        if (!res.headersSent) {
          res.writeHead(500);
          res.end();
        }
      });
  };
}

// Request-side failures Connect reports as INTERNAL: a body that is not
// the method's message, and a message flagged compressed without an encoding.
const parseFailure = /^(parse binary:|received compressed envelope)/;

/**
 * requestErrorsAsInvalidArgument rewrites a request-parse failure from
 * INTERNAL to INVALID_ARGUMENT.
 */
async function requestErrorsAsInvalidArgument(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const fixTrailer = () => {
    const t = res.trailer;
    if (t?.get("grpc-status") !== String(Code.Internal)) return;
    if (parseFailure.test(decodeURIComponent(t.get("grpc-message") ?? ""))) {
      t.set("grpc-status", String(Code.InvalidArgument));
    }
  };
  fixTrailer();
  const body = res.body;
  if (body === undefined) return res;
  if (res.status === 500 && (res.header?.get("content-type") ?? "").startsWith("application/json")) {
    // A Connect unary error: a small JSON body, read whole before the
    // status goes out.
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    try {
      const err = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
      if (err.code === "internal" && parseFailure.test(err.message ?? "")) {
        return { ...res, status: 400, body: once(new TextEncoder().encode(JSON.stringify({ ...err, code: "invalid_argument" }))) };
      }
    } catch {
      // Not an error body after all.
    }
    return { ...res, body: once(bytes) };
  }
  return {
    ...res,
    body: (async function* () {
      yield* body;
      fixTrailer();
    })(),
  };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
