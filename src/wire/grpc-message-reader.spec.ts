import { PassThrough } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { GrpcMessageReader } from "./grpc-message-reader.js";

const frame = (text: string, flags = 0, body = Buffer.from(text)) => {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt8(flags, 0);
  b.writeUInt32BE(body.length, 1);
  body.copy(b, 5);
  return b;
};

const reader = (maxBytes = 1024, compression: typeof compressionGzip | null = null) => {
  const stream = new PassThrough();
  const r = new GrpcMessageReader(stream, (bytes) => Buffer.from(bytes).toString(), compression, maxBytes);
  return { stream, r };
};

const all = async (r: AsyncIterable<string>) => {
  const out: string[] = [];
  for await (const m of r) out.push(m);
  return out;
};

describe("GrpcMessageReader", () => {
  it("reads messages split across chunks and several in one chunk", async () => {
    const { stream, r } = reader();
    const bytes = Buffer.concat([frame("one"), frame("two"), frame("three")]);
    stream.write(bytes.subarray(0, 2));
    stream.write(bytes.subarray(2, 11));
    stream.end(bytes.subarray(11));
    expect(await all(r)).toEqual(["one", "two", "three"]);
  });

  it("refuses a body that ends inside a message with INVALID_ARGUMENT", async () => {
    const { stream, r } = reader();
    stream.end(frame("complete").subarray(0, 7));
    await expect(all(r)).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("refuses a message longer than the limit with RESOURCE_EXHAUSTED before it arrives", async () => {
    const { stream, r } = reader(4);
    stream.write(frame("too long").subarray(0, 6));
    await expect(r.next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("decompresses a message flagged compressed with the negotiated encoding", async () => {
    const { stream, r } = reader(1024, compressionGzip);
    stream.end(frame("", 1, gzipSync("zipped")));
    expect(await all(r)).toEqual(["zipped"]);
  });

  it("fails a message flagged compressed when the request names no encoding", async () => {
    const { stream, r } = reader();
    stream.end(frame("plain", 1));
    await expect(all(r)).rejects.toThrow(/compressed envelope/);
  });

  it("rejects a waiting read with the reason it is failed with", async () => {
    const { r } = reader();
    const read = r.next();
    r.fail(new ConnectError("deadline", Code.DeadlineExceeded));
    await expect(read).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  });

  it("leaves the stream open when the reading stops early", async () => {
    const { stream, r } = reader();
    stream.write(frame("first"));
    for await (const m of r) {
      expect(m).toBe("first");
      break;
    }
    expect(stream.destroyed).toBe(false);
    expect(stream.writable).toBe(true);
  });

  it("pauses the stream while a message waits to be read", async () => {
    const { stream, r } = reader();
    stream.write(Buffer.concat([frame("a"), frame("b")]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.isPaused()).toBe(true);
    expect((await r.next()).value).toBe("a");
    expect((await r.next()).value).toBe("b");
    expect(stream.isPaused()).toBe(false);
  });
});
