import * as http2 from "node:http2";
import { create, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import {
  GetSessionRequestSchema,
  ListStepsRequestSchema,
  OrchestratorService,
  SendTurnRequestSchema,
} from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, SnapshotSchema, StepSchema } from "../src/gen/switchboard/v1/session_pb.js";
import { type Proc, type RunningOrchestrator, startEchoAgentProcess, startOrchestratorProcess } from "./support/process.js";

/**
 * A hostile client sends malformed Protobuf, wrong JSON types, oversized
 * and broken frames, invalid UTF-8, deeply nested structures and ids made
 * of operators and path characters. The orchestrator refuses each with a
 * client-error status, never a server failure, keeps running, and leaves
 * every existing session exactly as it was.
 */

/** The statuses that say "your request is wrong" (never "the server failed"). */
const clientErrors = new Set([
  Code.InvalidArgument,
  Code.ResourceExhausted,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.OutOfRange,
  // gRPC's code for a unary call with no or several messages.
  Code.Unimplemented,
]);

const methods = ["SendTurn", "GetSession", "ListSessions", "ListSteps", "ListSnapshots", "RollbackSession", "ForkSession", "DeleteSession", "ListFlows"];
const existing = ["fz-1", "fz-2", "fz-3"];
const maxMessageBytes = 64 * 1024;

type Wire = "grpc" | "connect-json" | "connect-proto";

/**
 * HostileCase is one request and the statuses it may get.
 */
interface HostileCase {
  kind: string;
  wire: Wire;
  method: string;
  body: Uint8Array;
  /** The codes it may get; `ok` allows success too (random bytes can form a valid request). */
  expect: Set<Code>;
  ok?: boolean;
}

const enc = new TextEncoder();
const only = (...codes: Code[]) => new Set(codes);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(tag: number, bytes: ArrayLike<number>): number[] {
  return [tag, ...varint(bytes.length), ...Array.from(bytes)];
}

const hostileIds = fc.oneof(
  fc.constantFrom("$where", "$gt", "{\"$ne\":null}", "a.b", "../etc/passwd", "x/y", "..", ".", "a\\b", "a b", "a\u0000b", "%2e%2e%2f",
    "sessions.$[]", "x".repeat(129), "", "🙂", "\u202e", "a\nb", "<script>", "'; drop table sessions; --"),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/^[A-Za-z0-9._:-]{1,128}$/.test(s)),
);

/**
 * expectForId: an id of the allowed characters ("..", "a.b") is a valid id
 * (ids are values, never paths or field names); an empty one means "new";
 * anything else is refused.
 */
const expectForId = (id: string) =>
  id === "" || /^[A-Za-z0-9._:-]{1,128}$/.test(id) ? { expect: clientErrors, ok: true } : { expect: only(Code.InvalidArgument) };

const nested = (depth: number): JsonValue => {
  let v: JsonValue = "bottom";
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { k: v } : [v];
  return v;
};

const arbitraries: Array<fc.Arbitrary<HostileCase>> = [
  // Random bytes as a gRPC message to a random method.
  fc.record({ method: fc.constantFrom(...methods), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }).map(({ method, bytes }) => ({
    kind: "random protobuf", wire: "grpc" as const, method, body: bytes, expect: clientErrors, ok: true,
  })),
  // A valid request cut short.
  fc.record({ id: fc.constantFrom(...existing), text: fc.string({ maxLength: 50 }), cut: fc.integer({ min: 1, max: 40 }) }).map(({ id, text, cut }) => {
    const full = toBinary(SendTurnRequestSchema, create(SendTurnRequestSchema, { sessionId: id, input: { text: text || "x", metadata: { k: "v" } } }));
    return { kind: "truncated protobuf", wire: "grpc" as const, method: "SendTurn", body: full.subarray(0, Math.max(0, full.length - cut)), expect: only(Code.InvalidArgument) };
  }),
  // Invalid UTF-8 in a string field, aimed at existing sessions.
  fc.record({
    id: fc.constantFrom(...existing),
    bad: fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x90, 0x28, 0xbc], [0xed, 0xa0, 0x80], [0xc0, 0xaf]),
    where: fc.constantFrom("text", "id", "metadata"),
  }).map(({ id, bad, where }) => {
    const text = where === "text" ? [0x61, ...bad] : [0x61];
    const sid = where === "id" ? [...enc.encode(id), ...bad] : [...enc.encode(id)];
    const meta = where === "metadata" ? field(0x22, [...field(0x0a, [0x6b]), ...field(0x12, bad)]) : [];
    const input = [...field(0x0a, text), ...meta];
    return { kind: "invalid utf-8", wire: "grpc" as const, method: "SendTurn", body: new Uint8Array([...field(0x0a, sid), ...field(0x2a, input)]), expect: only(Code.InvalidArgument) };
  }),
  // Wrong JSON types over Connect.
  fc.record({
    id: fc.constantFrom(...existing),
    shape: fc.constantFrom<Array<(id: string) => unknown>>(
      (id) => ({ sessionId: 42, input: { text: "x" } }),
      (id) => ({ sessionId: id, input: "hello" }),
      (id) => ({ sessionId: id, input: { text: { nested: true } } }),
      (id) => ({ sessionId: id, input: { text: "x", metadata: [1, 2] } }),
      (id) => ({ sessionId: id, input: { text: "x", event: { type: 7 } } }),
      (id) => ({ sessionId: [id], input: { text: "x" } }),
      (id) => ({ sessionId: id, turnId: true, input: { text: "x" } }),
      (id) => ({ sessionId: id, input: { text: "x", metadata: { k: 5 } } }),
      (id) => ({ sessionId: id, input: { text: "x", event: { type: "a.b", data: "not an object" } } }),
      (id) => [id],
      () => null,
      () => "a string",
    ),
  }).map(({ id, shape }) => ({
    kind: "wrong JSON types", wire: "connect-json" as const, method: "SendTurn", body: enc.encode(JSON.stringify(shape(id))), expect: only(Code.InvalidArgument),
  })),
  // A field of each method with a value of the wrong type.
  fc.record({
    id: fc.constantFrom(...existing),
    body: fc.constantFrom<Array<[string, (id: string) => unknown]>>(
      ["GetSession", () => ({ sessionId: { $ne: null } })],
      ["GetSession", (id) => ({ sessionId: [id] })],
      ["ListSteps", (id) => ({ sessionId: id, pageSize: "many" })],
      ["ListSteps", (id) => ({ sessionId: id, pageSize: 1.5 })],
      ["ListSnapshots", (id) => ({ sessionId: id, pageToken: 7 })],
      ["ListSessions", () => ({ status: { active: true } })],
      ["ListSessions", () => ({ pageSize: { n: 1 } })],
      ["RollbackSession", (id) => ({ sessionId: id, version: "one" })],
      ["RollbackSession", (id) => ({ sessionId: id, version: -1.5 })],
      ["ForkSession", (id) => ({ sessionId: id, version: [2] })],
      ["ForkSession", (id) => ({ sessionId: id, newSessionId: false })],
      ["DeleteSession", (id) => ({ sessionId: 12 })],
    ),
  }).map(({ id, body: [method, make] }) => ({
    kind: "wrong JSON types", wire: "connect-json" as const, method, body: enc.encode(JSON.stringify(make(id))), expect: only(Code.InvalidArgument),
  })),
  // Not JSON at all.
  fc.string({ maxLength: 80 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((s) => ({
    kind: "malformed JSON", wire: "connect-json" as const, method: "SendTurn", body: enc.encode(s), expect: only(Code.InvalidArgument),
  })),
  // Messages above the size limit, over both wires.
  fc.record({ extra: fc.integer({ min: 1, max: 8192 }), wire: fc.constantFrom<Wire>("grpc", "connect-json", "connect-proto"), id: fc.constantFrom(...existing) }).map(({ extra, wire, id }) => {
    const req = create(SendTurnRequestSchema, { sessionId: id, input: { text: "x".repeat(maxMessageBytes + extra) } });
    const body = wire === "connect-json" ? enc.encode(JSON.stringify(toJson(SendTurnRequestSchema, req))) : toBinary(SendTurnRequestSchema, req);
    return { kind: "oversized", wire, method: "SendTurn", body, expect: only(Code.ResourceExhausted) };
  }),
  // Deeply nested structures in the turn's event data.
  fc.record({ depth: fc.integer({ min: 33, max: 400 }), wire: fc.constantFrom<Wire>("grpc", "connect-json"), id: fc.constantFrom(...existing) }).map(({ depth, wire, id }) => {
    const req = create(SendTurnRequestSchema, { sessionId: id, input: { text: "x", event: { type: "deep.data", data: { root: nested(depth) } } } });
    const body = wire === "grpc" ? toBinary(SendTurnRequestSchema, req) : enc.encode(JSON.stringify(toJson(SendTurnRequestSchema, req)));
    return { kind: "deep nesting", wire, method: "SendTurn", body, expect: only(Code.InvalidArgument) };
  }),
  // Ids made of operators and path characters, to every method that takes one.
  fc.record({ id: hostileIds, method: fc.constantFrom("SendTurn", "GetSession", "ListSteps", "ListSnapshots", "RollbackSession", "ForkSession", "DeleteSession"), wire: fc.constantFrom<Wire>("grpc", "connect-json") }).map(({ id, method, wire }) => {
    const json: Record<string, unknown> = { sessionId: id };
    if (method === "SendTurn") json["input"] = { text: "x" };
    if (method === "RollbackSession") json["version"] = "1";
    const schema = method === "SendTurn" ? SendTurnRequestSchema : method === "ListSteps" ? ListStepsRequestSchema : GetSessionRequestSchema;
    const body = wire === "connect-json" ? enc.encode(JSON.stringify(json)) : toBinary(schema, create(schema, { sessionId: id, ...(method === "SendTurn" ? { input: { text: "x" } } : {}) } as never));
    return { kind: "hostile id", wire, method, body, ...expectForId(id) };
  }),
  // Hostile ids in the other id fields.
  fc.record({ id: hostileIds, target: fc.constantFrom(...existing), field: fc.constantFrom("turnId", "accountId", "flowId") }).map(({ id, target, field: f }) => ({
    kind: "hostile id", wire: "connect-json" as const, method: "SendTurn",
    // A valid id makes a valid turn: it runs on a scratch session, never on
    // the sessions whose integrity is checked.
    body: enc.encode(JSON.stringify({ sessionId: expectForId(id).ok === true ? "fz-scratch" : target, [f]: id, input: { text: "x" } })),
    ...expectForId(id),
  })),
];

/** Frame-level abuse of the gRPC envelope. */
const frameCases = fc.record({
  id: fc.constantFrom(...existing),
  how: fc.constantFrom("compressed flag", "length beyond body", "huge length", "two messages", "empty body", "garbage after message"),
}).map(({ id, how }): HostileCase => {
  const msg = toBinary(SendTurnRequestSchema, create(SendTurnRequestSchema, { sessionId: id, input: { text: "x" } }));
  const env = (flag: number, len: number, payload: Uint8Array) => {
    const b = Buffer.alloc(5 + payload.length);
    b.writeUInt8(flag, 0);
    b.writeUInt32BE(len, 1);
    Buffer.from(payload).copy(b, 5);
    return b;
  };
  const frames: Record<string, Uint8Array> = {
    "compressed flag": env(1, msg.length, msg),
    "length beyond body": env(0, msg.length + 10, msg),
    "huge length": env(0, 0xfffffff0, msg),
    "two messages": Buffer.concat([env(0, msg.length, msg), env(0, msg.length, msg)]),
    "empty body": new Uint8Array(0),
    "garbage after message": Buffer.concat([env(0, msg.length, msg), Buffer.from([7, 7])]),
  };
  return { kind: `frame: ${how}`, wire: "grpc", method: "SendTurn", body: frames[how] as Uint8Array, expect: clientErrors, raw: true } as HostileCase;
});

describe("hostile input", () => {
  let agent: Proc & { url: string };
  let orchestrator: RunningOrchestrator;
  let client: Client<typeof OrchestratorService>;
  let sessions: http2.ClientHttp2Session[] = [];
  const before = new Map<string, unknown>();

  const stateOf = async (id: string) => ({
    session: toJson(SessionSchema, (await client.getSession({ sessionId: id })).session!),
    steps: (await client.listSteps({ sessionId: id, pageSize: 1000 })).steps.map((s) => toJson(StepSchema, s)),
    snapshots: (await client.listSnapshots({ sessionId: id, pageSize: 1000 })).snapshots.map((s) => toJson(SnapshotSchema, s)),
  });

  beforeAll(async () => {
    agent = await startEchoAgentProcess();
    orchestrator = await startOrchestratorProcess(["--agent", `echo=${agent.url}`, "--max-message-bytes", String(maxMessageBytes)]);
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    for (const id of existing) {
      await client.sendTurn({ sessionId: id, accountId: "acct-1", input: { text: "hello" } });
      await client.sendTurn({ sessionId: id, turnId: "t-2", input: { text: "second" } });
      before.set(id, await stateOf(id));
    }
    sessions = [http2.connect(orchestrator.url), http2.connect(orchestrator.url)];
  });

  afterAll(async () => {
    for (const s of sessions) s.close();
    await orchestrator?.stop();
    await agent?.stop();
  });

  const grpcCall = (session: http2.ClientHttp2Session, c: HostileCase & { raw?: boolean }) =>
    new Promise<Code>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `/switchboard.v1.OrchestratorService/${c.method}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let status: string | undefined;
      stream.on("response", (headers) => {
        if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
      });
      stream.on("trailers", (trailers) => {
        if (trailers["grpc-status"] !== undefined) status = String(trailers["grpc-status"]);
      });
      stream.on("data", () => {});
      stream.on("close", () => (status === undefined ? reject(new Error(`no grpc-status (rst ${stream.rstCode})`)) : resolve(Number(status) as Code)));
      stream.on("error", () => {});
      if (c.raw === true) {
        stream.end(Buffer.from(c.body));
      } else {
        const head = Buffer.alloc(5);
        head.writeUInt32BE(c.body.length, 1);
        stream.end(Buffer.concat([head, Buffer.from(c.body)]));
      }
    });

  const connectCall = async (c: HostileCase) => {
    const res = await fetch(`${orchestrator.url}/switchboard.v1.OrchestratorService/${c.method}`, {
      method: "POST",
      headers: { "content-type": c.wire === "connect-json" ? "application/json" : "application/proto", "connect-protocol-version": "1" },
      body: c.body,
    });
    if (res.status === 200) {
      await res.arrayBuffer();
      return 0 as Code;
    }
    const err = (await res.json()) as { code: string };
    const name = err.code.replace(/(^|_)([a-z])/g, (_, __, ch: string) => ch.toUpperCase());
    return Code[name as keyof typeof Code];
  };

  it("refuses 10,000 hostile requests with client errors, stays healthy and changes no session", async () => {
    const cases = fc.sample(fc.oneof(...arbitraries, frameCases), { numRuns: 10_000, seed: 20261121 });
    const seen = new Map<string, number>();
    const wrong: string[] = [];
    let next = 0;
    const worker = async (w: number) => {
      for (;;) {
        const i = next++;
        if (i >= cases.length) return;
        const c = cases[i] as HostileCase;
        seen.set(c.kind, (seen.get(c.kind) ?? 0) + 1);
        let code: Code;
        try {
          code = c.wire === "grpc" ? await grpcCall(sessions[w % sessions.length] as http2.ClientHttp2Session, c) : await connectCall(c);
        } catch (e) {
          wrong.push(`#${i} ${c.kind} ${c.wire} ${c.method}: ${String(e)}`);
          continue;
        }
        const okCode = (code as number) === 0;
        if (okCode ? c.ok !== true : !c.expect.has(code)) {
          wrong.push(`#${i} ${c.kind} ${c.wire} ${c.method}: got ${okCode ? "OK" : Code[code]} for ${Buffer.from(c.body.subarray(0, 80)).toString("hex")}`);
        }
      }
    };
    await Promise.all([...Array(8).keys()].map(worker));
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(cases.length).toBe(10_000);
    // Every kind of hostile input was sent, many times.
    expect([...seen.keys()].length).toBeGreaterThanOrEqual(12);

    // Still running, still healthy, and every session as it was.
    expect(orchestrator.child.exitCode).toBeNull();
    const health = await createClient(Health, createGrpcTransport({ baseUrl: orchestrator.url })).check({});
    expect(health.status).toBe(1);
    for (const id of existing) expect(await stateOf(id), id).toEqual(before.get(id));
    // And it still serves turns.
    expect((await client.sendTurn({ sessionId: "fz-1", input: { text: "still here" } })).session?.version).toBe(3n);
  }, 180_000);
});
