import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createClient, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoAgent } from "../agents/echo/agent.js";
import { AgentService, DescribeResponseSchema, TurnStartSchema } from "../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import type { AgentCall } from "../src/core/ports.js";
import { agentTransport } from "../src/mesh/agent-transport.js";
import type { TransportFactory } from "../src/mesh/connection-pool.js";
import { createGrpcStreamTransport } from "../src/mesh/grpc-stream-transport.js";
import { defaultKeepaliveOptions, KeepaliveSessionManager } from "../src/mesh/keepalive.js";
import { Mesh } from "../src/mesh/mesh.js";
import { Registry } from "../src/mesh/registry.js";
import { type RunningAgent, serveAgent } from "../src/sdk/index.js";
import { MemoryRegistryStore } from "../src/store/memory-registry-store.js";
import { freePort } from "./support/ferretdb.js";

const start = (text: string, metadata: Record<string, string> = {}) =>
  create(TurnStartSchema, { sessionId: "s1", turnId: "t1", stage: "conversation", input: { text }, metadata });

/** invoke runs one agent call through a mesh with the given transport, as the orchestrator does. */
async function invoke(transport: TransportFactory, endpoint: string, call: Omit<AgentCall, "agent">) {
  const registry = new Registry({ store: new MemoryRegistryStore(), statics: [{ name: "echo", endpoint }] });
  await registry.start();
  const mesh = new Mesh(registry, { transport });
  try {
    return await mesh.invoke({ agent: "echo", ...call });
  } finally {
    mesh.close();
    registry.stop();
  }
}

const transportTo = (url: string, interceptors: Interceptor[] = []) =>
  createGrpcStreamTransport({ baseUrl: url, sessionManager: new KeepaliveSessionManager(url, defaultKeepaliveOptions, undefined), interceptors });

/**
 * The orchestrator's agent transport on Node's HTTP/2 stream API, against
 * real servers on real sockets: an agent served by the SDK (Connect's
 * server), and a bare HTTP/2 server that answers what gRPC servers may
 * answer. It must give the mesh what Connect's own transport gives it.
 */
describe("gRPC stream transport", () => {
  let agent: RunningAgent;
  const stream = agentTransport();
  const connect = agentTransport({ stack: "connect" });

  beforeAll(async () => {
    agent = await serveAgent({ ...echoAgent });
  });

  afterAll(async () => {
    await agent?.close();
  });

  it("streams a turn's deltas and result exactly as Connect's transport does", async () => {
    const run = async (transport: TransportFactory) => {
      const deltas: string[] = [];
      const outcome = await invoke(transport, agent.url, { start: start("hi there"), signal: new AbortController().signal, timeoutMs: 5000, onDelta: (d) => void deltas.push(d.text) });
      return { deltas, result: outcome.result };
    };
    const viaStream = await run(stream);
    expect(viaStream.deltas).toEqual(["You", " said:", " hi", " there"]);
    expect(viaStream).toEqual(await run(connect));
  });

  it("makes unary calls through the interceptors, with the response headers", async () => {
    const seen: string[] = [];
    const interceptor: Interceptor = (next) => async (req) => {
      seen.push(req.method.name);
      return next(req);
    };
    let header: Headers | undefined;
    const res = await createClient(AgentService, transportTo(agent.url, [interceptor])).describe({}, { onHeader: (h) => (header = h) });
    expect(res.card?.name).toBe("echo");
    expect(header?.get("content-type")).toMatch(/^application\/grpc/);
    expect(seen).toEqual(["Describe"]);
  });

  it("fails an unknown method with UNIMPLEMENTED", async () => {
    const err = await createClient(OrchestratorService, transportTo(agent.url)).getSession({ sessionId: "x" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unimplemented);
  });

  it("fails an unreachable endpoint with UNAVAILABLE", async () => {
    const err = await invoke(stream, `http://127.0.0.1:${await freePort()}`, { start: start("hi"), signal: new AbortController().signal, timeoutMs: 5000, onDelta: () => undefined }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    expect(ConnectError.from(err).rawMessage).toMatch(/is unavailable/);
  });

  it("ends a turn that runs past its budget with DEADLINE_EXCEEDED, and cancels one whose caller gives up", async () => {
    const slow = start("slow", { "switchboard.conformance": "slow" });
    const late = await invoke(stream, agent.url, { start: slow, signal: new AbortController().signal, timeoutMs: 200, onDelta: () => undefined }).catch((e: unknown) => e);
    expect(ConnectError.from(late).code).toBe(Code.DeadlineExceeded);
    const abort = new AbortController();
    const cancelled = await invoke(stream, agent.url, { start: slow, signal: abort.signal, timeoutMs: 10_000, onDelta: () => abort.abort() }).catch((e: unknown) => e);
    expect(ConnectError.from(cancelled).code).toBe(Code.Canceled);
  });

  describe("against a server's edge cases", () => {
    let connectServer: http2.Http2Server;
    let connectUrl: string;
    let bare: http2.Http2Server;
    let bareUrl: string;

    beforeAll(async () => {
      // A Connect server whose method fails with details and metadata.
      const routes = (router: ConnectRouter) =>
        router.service(AgentService, {
          describe() {
            throw new ConnectError("the card is being rebuilt", Code.FailedPrecondition, { "x-retry-in": "5" }, [
              { desc: TurnStartSchema, value: { sessionId: "detail" } },
            ]);
          },
        });
      connectServer = http2.createServer(connectNodeAdapter({ routes }));
      // A bare server answering by the request's x-case header.
      bare = http2.createServer();
      bare.on("stream", (s, headers) => {
        s.on("error", () => undefined);
        s.resume();
        const reply = toBinary(DescribeResponseSchema, create(DescribeResponseSchema, { card: { name: "zipped" } }));
        switch (headers["x-case"]) {
          case "gzip": {
            const body = gzipSync(reply);
            const frame = Buffer.alloc(5 + body.length);
            frame.writeUInt8(1, 0);
            frame.writeUInt32BE(body.length, 1);
            body.copy(frame, 5);
            s.respond({ ":status": 200, "content-type": "application/grpc", "grpc-encoding": "gzip" }, { waitForTrailers: true });
            s.once("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
            s.end(frame);
            return;
          }
          case "refused":
            s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
            return;
          case "503":
            s.respond({ ":status": 503 }, { endStream: true });
            return;
          case "no-status":
            s.respond({ ":status": 200, "content-type": "application/grpc" }, { endStream: true });
            return;
          default:
            s.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(Code.PermissionDenied), "grpc-message": "not%20you" }, { endStream: true });
        }
      });
      for (const server of [connectServer, bare]) await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      connectUrl = `http://127.0.0.1:${(connectServer.address() as AddressInfo).port}`;
      bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
    });

    afterAll(() => {
      connectServer?.close();
      bare?.close();
    });

    const describeWith = (url: string, xCase = "") =>
      createClient(AgentService, transportTo(url)).describe({}, { headers: { "x-case": xCase } }).catch((e: unknown) => ConnectError.from(e));

    it("gives a server's error with its code, message, metadata and details", async () => {
      const err = (await describeWith(connectUrl)) as ConnectError;
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toBe("the card is being rebuilt");
      expect(err.metadata.get("x-retry-in")).toBe("5");
      expect(err.findDetails(TurnStartSchema).map((d) => d.sessionId)).toEqual(["detail"]);
    });

    it("reads a reply the server compressed, and maps what else a server may answer to gRPC's codes", async () => {
      const zipped = await describeWith(bareUrl, "gzip");
      expect(zipped).not.toBeInstanceOf(ConnectError);
      expect((zipped as { card?: { name: string } }).card?.name).toBe("zipped");
      const codeOf = async (xCase: string) => ((await describeWith(bareUrl, xCase)) as ConnectError).code;
      expect(await codeOf("trailers-only")).toBe(Code.PermissionDenied);
      expect(((await describeWith(bareUrl, "trailers-only")) as ConnectError).rawMessage).toBe("not you");
      expect(await codeOf("refused")).toBe(Code.Unavailable);
      expect(await codeOf("503")).toBe(Code.Unavailable);
      expect(await codeOf("no-status")).toBe(Code.Internal);
    });
  });
});
