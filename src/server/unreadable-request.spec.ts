import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { requestErrorsAsInvalidArgument, requestJsonOptions } from "./unreadable-request.js";

const { sendTurn, watchSession } = OrchestratorService.method;

const enc = new TextEncoder();

async function* chunks(...parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* parts;
}

async function read(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of body ?? chunks()) parts.push(p);
  return Buffer.concat(parts);
}

const envelope = (flags: number, data: Uint8Array) => {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
};

const unaryError = (json: object): UniversalServerResponse => {
  const body = enc.encode(JSON.stringify(json));
  return { status: 500, header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }), body: chunks(body) };
};

describe("requestJsonOptions", () => {
  it("decodes UTF-8 as it is and refuses bytes that are not UTF-8 with INVALID_ARGUMENT", () => {
    expect(requestJsonOptions.textDecoder.decode(enc.encode('{"text":"café 🙂"}'))).toBe('{"text":"café 🙂"}');
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      const decode = () => requestJsonOptions.textDecoder.decode(new Uint8Array([0x22, 0x61, ...bad, 0x22]));
      expect(decode).toThrow(ConnectError);
      expect(decode).toThrow(/^\[invalid_argument\] the request body is not valid UTF-8/);
    }
  });
});

describe("requestErrorsAsInvalidArgument", () => {
  it("makes a Connect unary parse failure a 400 INVALID_ARGUMENT, with the Content-Length of the new body", async () => {
    const res = await requestErrorsAsInvalidArgument(unaryError({ code: "internal", message: "parse binary: premature EOF" }), sendTurn);
    const body = await read(res.body);
    expect(res.status).toBe(400);
    expect(new Headers(res.header).get("content-length")).toBe(String(body.byteLength));
    expect(JSON.parse(body.toString())).toEqual({
      code: "invalid_argument",
      message: "the request body is not a valid switchboard.v1.SendTurnRequest in the Protobuf binary format (premature EOF); check that the client uses the same .proto and that the content-type names the body's encoding",
    });
  });

  it("leaves other errors as they were", async () => {
    const res = await requestErrorsAsInvalidArgument(unaryError({ code: "internal", message: "agent x failed: parse binary: premature EOF" }), sendTurn);
    expect(res.status).toBe(500);
    expect(JSON.parse((await read(res.body)).toString())).toEqual({ code: "internal", message: "agent x failed: parse binary: premature EOF" });
  });

  it("rewrites the error of a Connect end-of-stream message and nothing before it", async () => {
    const message = envelope(0, new Uint8Array([2, 0, 0, 0, 0]));
    const end = envelope(2, enc.encode(JSON.stringify({ error: { code: "internal", message: "parse binary: illegal tag" }, metadata: { a: ["b"] } })));
    const res = await requestErrorsAsInvalidArgument(
      { status: 200, header: new Headers({ "content-type": "application/connect+proto" }), body: chunks(message, end) },
      watchSession,
    );
    const body = await read(res.body);
    expect(body.subarray(0, message.length)).toEqual(message);
    const last = body.subarray(message.length);
    expect(last.readUInt8(0)).toBe(2);
    expect(last.readUInt32BE(1)).toBe(last.length - 5);
    const parsed = JSON.parse(last.subarray(5).toString()) as { error: { code: string; message: string }; metadata: unknown };
    expect(parsed.error.code).toBe("invalid_argument");
    expect(parsed.error.message).toMatch(/^the request body is not a valid switchboard\.v1\.WatchSessionRequest in the Protobuf binary format \(illegal tag\)/);
    expect(parsed.metadata).toEqual({ a: ["b"] });
  });

  it("rewrites a gRPC trailer's status and message", async () => {
    const trailer = new Headers({ "grpc-status": String(Code.Internal), "grpc-message": encodeURIComponent("parse binary: premature EOF") });
    const res = await requestErrorsAsInvalidArgument({ status: 200, header: new Headers({ "content-type": "application/grpc" }), body: chunks(), trailer }, sendTurn);
    await read(res.body);
    expect(trailer.get("grpc-status")).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(trailer.get("grpc-message") ?? "")).toMatch(/^the request body is not a valid switchboard\.v1\.SendTurnRequest/);
  });
});
