import * as http2 from "node:http2";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SendTurnRequestSchema, SendTurnResponseSchema, SendTurnView } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { type Proc, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

const sendTurnPath = "/switchboard.v1.OrchestratorService/SendTurn";

/** Reply is one HTTP/2 exchange as the wire carried it. */
interface Reply {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders;
}

function post(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (head = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve({ headers: head, body: Buffer.concat(chunks), trailers }));
    stream.on("error", reject);
    stream.end(body);
  });
}

const envelope = (flags: number, bytes: Uint8Array) => {
  const b = Buffer.alloc(5 + bytes.byteLength);
  b.writeUInt8(flags, 0);
  b.writeUInt32BE(bytes.byteLength, 1);
  Buffer.from(bytes).copy(b, 5);
  return b;
};

/** frames splits a gRPC or gRPC-Web body into its length-prefixed frames. */
function frames(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at < body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body[at] as number, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

const turn = (sessionId: string, text: string, view = SendTurnView.BASIC) =>
  toBinary(SendTurnRequestSchema, create(SendTurnRequestSchema, { sessionId, input: { text }, view }));
const output = (bytes: Uint8Array) => fromBinary(SendTurnResponseSchema, bytes).output;

/**
 * One port serves gRPC on HTTP/2's stream API and Connect, gRPC-Web and
 * the rest through the request handler: these tests hold the two paths to
 * the same behaviour, on the wire, with clients that are not Connect's.
 */
describe("gRPC and the other protocols on one port", () => {
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`]);
    session = http2.connect(orchestrator.url);
  });

  afterAll(async () => {
    session?.close();
    await orchestrator?.stop();
    await agent?.stop();
  });

  it("answers gRPC, Connect and gRPC-Web calls interleaved on one HTTP/2 connection", async () => {
    const [viaGrpc, viaConnect, viaGrpcWeb] = await Promise.all([
      post(session, sendTurnPath, { "content-type": "application/grpc" }, envelope(0, turn("one-conn-grpc", "by gRPC"))),
      post(session, sendTurnPath, { "content-type": "application/proto", "connect-protocol-version": "1" }, turn("one-conn-connect", "by Connect")),
      post(session, sendTurnPath, { "content-type": "application/grpc-web+proto" }, envelope(0, turn("one-conn-web", "by gRPC-Web"))),
    ]);

    expect(viaGrpc.headers["content-type"]).toBe("application/grpc+proto");
    expect(viaGrpc.trailers["grpc-status"]).toBe("0");
    expect(output(frames(viaGrpc.body)[0]?.data ?? Buffer.alloc(0))).toBe("Hello! I am the echo agent. You said: by gRPC");

    expect(viaConnect.headers[":status"]).toBe(200);
    expect(viaConnect.headers["content-type"]).toBe("application/proto");
    expect(output(viaConnect.body)).toBe("Hello! I am the echo agent. You said: by Connect");

    const web = frames(viaGrpcWeb.body);
    expect(output(web[0]?.data ?? Buffer.alloc(0))).toBe("Hello! I am the echo agent. You said: by gRPC-Web");
    // gRPC-Web carries its status in a last frame flagged 0x80.
    expect(web[1]?.flags).toBe(0x80);
    expect(web[1]?.data.toString()).toMatch(/grpc-status: ?0/);
  });

  it("compresses a large reply with gzip only when the client accepts it, and reads a gzip request", async () => {
    // The full view carries the turn twice (the reply and the history): over 64 KiB.
    const long = Array.from({ length: 12_000 }, () => "word").join(" ");
    const accepted = await post(session, sendTurnPath, { "content-type": "application/grpc", "grpc-accept-encoding": "gzip" }, envelope(0, turn("large-gzip", long, SendTurnView.FULL)));
    expect([accepted.headers["grpc-message"], accepted.trailers["grpc-status"]]).toEqual([undefined, "0"]);
    expect(accepted.headers["grpc-encoding"]).toBe("gzip");
    const [zipped] = frames(accepted.body);
    expect(zipped?.flags).toBe(1);
    expect(output(gunzipSync(zipped?.data ?? Buffer.alloc(0)))).toBe(`Hello! I am the echo agent. You said: ${long}`);

    const plain = await post(session, sendTurnPath, { "content-type": "application/grpc" }, envelope(0, turn("large-plain", long, SendTurnView.FULL)));
    expect(plain.headers["grpc-encoding"]).toBeUndefined();
    expect(frames(plain.body)[0]?.flags).toBe(0);

    // grpc-js, an independent implementation, compressing what it sends.
    const Client = grpc.makeGenericClientConstructor({}, "");
    const client = new Client(`127.0.0.1:${orchestrator.port}`, grpc.credentials.createInsecure(), { "grpc.default_compression_algorithm": 2 });
    try {
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(sendTurnPath, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(turn("grpc-js-gzip", "squeezed")), (err, res) => (err ? reject(err) : resolve(res as Buffer))),
      );
      expect(output(reply)).toBe("Hello! I am the echo agent. You said: squeezed");
    } finally {
      client.close();
    }
  });

  it("refuses what it cannot serve with the status gRPC clients expect and a message that says why", async () => {
    const unknown = await post(session, "/switchboard.v1.OrchestratorService/NoSuchMethod", { "content-type": "application/grpc" }, envelope(0, new Uint8Array()));
    expect(unknown.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    expect(decodeURIComponent(String(unknown.headers["grpc-message"]))).toContain("NoSuchMethod");

    const snappy = await post(session, sendTurnPath, { "content-type": "application/grpc", "grpc-encoding": "snappy" }, envelope(1, turn("snappy", "x")));
    expect(snappy.headers["grpc-status"] ?? snappy.trailers["grpc-status"]).toBe(String(Code.Unimplemented));
    expect(decodeURIComponent(String(snappy.headers["grpc-message"] ?? snappy.trailers["grpc-message"]))).toMatch(/snappy.*gzip/);

    const broken = await post(session, sendTurnPath, { "content-type": "application/grpc" }, envelope(0, Buffer.from([0x0a, 0xff])));
    expect(broken.headers["grpc-status"] ?? broken.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(String(broken.headers["grpc-message"] ?? broken.trailers["grpc-message"]))).toContain("switchboard.v1.SendTurnRequest");
  });

  it("ends a call at its grpc-timeout with DEADLINE_EXCEEDED while a slow reader holds the stream open", async () => {
    // The request's body never ends: the handler waits for it until the deadline.
    const stream = session.request({ ":method": "POST", ":path": sendTurnPath, "content-type": "application/grpc", te: "trailers", "grpc-timeout": "200m" });
    stream.write(envelope(0, turn("never-ends", "x")));
    const status = await new Promise<string | undefined>((resolve) => {
      let found: string | undefined;
      stream.on("response", (h) => (found ??= h["grpc-status"] as string | undefined));
      stream.on("trailers", (t) => (found ??= t["grpc-status"] as string | undefined));
      // The status ends the server's side; this side never sent its end.
      stream.on("end", () => resolve(found));
      stream.resume();
    });
    stream.close();
    expect(status).toBe(String(Code.DeadlineExceeded));
  });
});
