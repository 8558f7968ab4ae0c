import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SessionEventSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { EventQueue, eventSize } from "./event-queue.js";

const chunk = (seq: number, bytes: number) =>
  create(SessionEventSchema, { seq: BigInt(seq), kind: { case: "output", value: { audio: new Uint8Array(bytes) } } });

describe("EventQueue", () => {
  it("says when it holds more than its limit, and when it has room again", async () => {
    const q = new EventQueue(1000);
    q.push(chunk(1, 600));
    expect(q.full).toBe(false);
    q.push(chunk(2, 600));
    expect(q.full).toBe(true);
    let roomy = false;
    const room = q.whenSpace().then(() => (roomy = true));
    const it = q[Symbol.asyncIterator]();
    expect((await it.next()).value?.seq).toBe(1n);
    await room;
    expect(roomy).toBe(true);
    expect(q.bytes).toBe(eventSize(chunk(2, 600)));
  });

  it("delivers what it holds, then the error it was ended with", async () => {
    const q = new EventQueue(1000);
    q.push(chunk(1, 10));
    q.end(new ConnectError("going away", Code.Unavailable));
    q.push(chunk(2, 10));
    const seen: bigint[] = [];
    const err = await (async () => {
      for await (const e of q) seen.push(e.seq);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1n]);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
  });

  it("drops everything at once when failed", async () => {
    const q = new EventQueue(100);
    for (let i = 1; i <= 5; i++) q.push(chunk(i, 1000));
    q.fail(new ConnectError("too slow", Code.ResourceExhausted));
    expect(q.bytes).toBe(0);
    await expect(q[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });
});
