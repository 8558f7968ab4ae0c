import { Code, ConnectError, createConnectRouter, createContextValues } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  type ConnectNodeAdapterOptions,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { grpcStreamHandler, type GrpcStreamHandler } from "./grpc-stream-handler.js";
import type { RequestHandler } from "./http-server.js";
import { peerKey } from "./identity.js";
import { requestErrorsAsInvalidArgument, requestJsonOptions } from "./unreadable-request.js";

/**
 * responseCompressMinBytes is the smallest reply message the server
 * compresses, when the client accepts an encoding. Connect's default is
 * 1 KiB, which gzipped every SendTurn reply carrying a session: a twelfth of
 * the orchestrator's CPU per turn in scenario C's profile, to save a few
 * hundred bytes on a network between a gateway and its orchestrator that
 * is rarely the bottleneck. Large pages (ListSteps, ListSnapshots, a
 * session with a large state) still go out compressed. gRPC's own servers
 * compress no reply unless configured to.
 */
export const responseCompressMinBytes = 64 * 1024;

const acceptCompression = [compressionGzip, compressionBrotli];

/**
 * grpcHandler serves the gRPC protocol for the services `options.routes`
 * registers, with the interceptors and limits rpcHandler gives Connect's
 * router for them; HttpServer hands it every HTTP/2 stream first.
 */
export function grpcHandler(options: Pick<ConnectNodeAdapterOptions, "routes" | "interceptors" | "readMaxBytes">): GrpcStreamHandler {
  return grpcStreamHandler(options.routes, {
    interceptors: options.interceptors ?? [],
    readMaxBytes: options.readMaxBytes ?? 0xffffffff,
    compressMinBytes: responseCompressMinBytes,
    acceptCompression,
  });
}

/**
 * rpcHandler is connectNodeAdapter with three additions: it records the
 * caller's address for per-client limits; it answers a request body that
 * does not parse as its Protobuf message with INVALID_ARGUMENT, not the
 * INTERNAL Connect reports for it (the bytes are the client's fault, and
 * clients must not retry them as a server failure), over gRPC and the
 * Connect protocol (gRPC-Web keeps INTERNAL); and it refuses JSON that is
 * not valid UTF-8, where Connect would read it with U+FFFD in place of the
 * broken bytes.
 */
export function rpcHandler(options: ConnectNodeAdapterOptions): RequestHandler {
  const router = createConnectRouter({
    acceptCompression,
    compressMinBytes: responseCompressMinBytes,
    jsonOptions: requestJsonOptions,
    ...options,
  });
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
      .then(async (uRes) => universalResponseToNodeResponse(await requestErrorsAsInvalidArgument(uRes, handler.method), res))
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
