import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { sha256Hex } from "../src/server/auth.js";
import type { Limits } from "../src/server/limits.js";
import { connectClient, type EventStream } from "./support/converse-clients.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

/**
 * Every API that runs turns enters through one turn entry: Converse turns
 * are charged to the same per-token rate as SendTurn turns, and traced and
 * logged the same way.
 */

const tokenA = "tenant-a-token-0123456789";
const tokenB = "tenant-b-token-0123456789";

const headers = (values: Record<string, string>): Interceptor[] => [
  (next) => (req) => {
    for (const [k, v] of Object.entries(values)) req.header.set(k, v);
    return next(req);
  },
];

async function start(limits: Partial<Limits>): Promise<InProcess> {
  return startInProcess({
    operability: {
      limits,
      auth: {
        tokens: [
          { name: "a", tenant: "a", sha256: sha256Hex(tokenA) },
          { name: "b", tenant: "b", sha256: sha256Hex(tokenB) },
        ],
        publicMethods: ["health"],
      },
    },
  });
}

function converse(sb: InProcess, values: Record<string, string>): EventStream {
  return connectClient(sb.url, createGrpcTransport({ baseUrl: sb.url, interceptors: headers(values) })).converse();
}

/** turn sends a turn and waits for the event that ends it (completed or failed). */
async function turn(stream: EventStream, turnId: string, text: string) {
  stream.send({ kind: { case: "turn", value: { turnId, input: { text } } } });
  return stream.waitFor((e) => e.turnId === turnId && (e.kind.case === "completed" || e.kind.case === "failed"));
}

describe("the turn entry", () => {
  const started: InProcess[] = [];
  afterAll(async () => {
    for (const sb of started) await sb.close();
  });

  it("charges Converse turns to the token's turn rate exactly as SendTurn turns: RESOURCE_EXHAUSTED past it", async () => {
    // 2 at once, then one per 100 seconds: a third turn cannot fit.
    const sb = await start({ turnsPerSecond: 0.01, turnBurst: 2 });
    started.push(sb);
    const a = converse(sb, { authorization: `Bearer ${tokenA}` });
    a.send({ kind: { case: "open", value: { sessionId: "rate-1" } } });
    await a.waitForKind("opened");
    expect((await turn(a, "t1", "one")).kind.case).toBe("completed");
    expect((await turn(a, "t2", "two")).kind.case).toBe("completed");
    const refused = await turn(a, "t3", "three");
    expect(refused.kind.case).toBe("failed");
    if (refused.kind.case !== "failed") return;
    expect(refused.kind.value.code).toBe("resource_exhausted");
    expect(refused.kind.value.message).toMatch(/too many turns: the limit is 0.01 per second per token; retry in \d+ms/);
    // The refused turn is not part of the session's history and changed nothing.
    expect(refused.seq).toBe(0n);
    const unary = (token: string) =>
      createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url, interceptors: headers({ authorization: `Bearer ${token}` }) }));
    expect((await unary(tokenA).getSession({ sessionId: "rate-1" })).session?.version).toBe(2n);
    // One budget per token, whichever API spends it.
    const err = await unary(tokenA).sendTurn({ sessionId: "rate-2", input: { text: "hi" } }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.ResourceExhausted });
    // The stream goes on, and another token's turns are unaffected.
    const b = converse(sb, { authorization: `Bearer ${tokenB}` });
    b.send({ kind: { case: "open", value: { sessionId: "rate-b" } } });
    await b.waitForKind("opened");
    expect((await turn(b, "t1", "hi")).kind.case).toBe("completed");
    a.end();
    b.end();
    expect((await a.ended).code).toBe(0);
  });

  describe("tracing and logs", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    let sb: InProcess;
    beforeAll(async () => {
      trace.setGlobalTracerProvider(provider);
      sb = await start({});
      started.push(sb);
    });
    afterAll(() => trace.disable());

    it("runs each Converse turn as a span continuing the stream's trace, with trace id, tenant and account in its log line", async () => {
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const gatewaySpan = "00f067aa0ba902b7";
      exporter.reset();
      const stream = converse(sb, { authorization: `Bearer ${tokenA}`, traceparent: `00-${traceId}-${gatewaySpan}-01` });
      stream.send({ kind: { case: "open", value: { sessionId: "traced-c", accountId: "acct-7" } } });
      await stream.waitForKind("opened");
      expect((await turn(stream, "c1", "hello")).kind.case).toBe("completed");
      expect((await turn(stream, "c2", "again")).kind.case).toBe("completed");
      stream.end();
      await stream.ended;

      const spans = exporter.getFinishedSpans().filter((s) => s.name === "switchboard.turn");
      expect(spans.map((s) => s.attributes["switchboard.turn_id"])).toEqual(["c1", "c2"]);
      for (const span of spans) {
        expect(span.spanContext().traceId).toBe(traceId);
        expect(span.parentSpanContext?.spanId).toBe(gatewaySpan);
        expect(span.attributes["switchboard.session_id"]).toBe("traced-c");
      }
      expect(spans.map((s) => s.attributes["switchboard.stage"])).toEqual(["greeting", "conversation"]);
      const children = exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === spans[0]?.spanContext().spanId);
      expect(children.map((s) => s.name)).toContain("switchboard.agent echo");

      const lines = sb.logs.lines.filter((l) => l["msg"] === "turn" && l["sessionId"] === "traced-c");
      expect(lines.map((l) => l["turnId"])).toEqual(["c1", "c2"]);
      for (const line of lines) expect(line).toMatchObject({ traceId, tenant: "a", accountId: "acct-7", status: "ok" });
    });

    it("marks a Converse turn's span failed when the turn fails", async () => {
      exporter.reset();
      const stream = converse(sb, { authorization: `Bearer ${tokenA}` });
      stream.send({ kind: { case: "open", value: { sessionId: "traced-f", flowId: "no-such-flow" } } });
      await stream.waitForKind("opened");
      const failed = await turn(stream, "f1", "hi");
      expect(failed.kind.case === "failed" && failed.kind.value.code).toBe("not_found");
      stream.end();
      await stream.ended;
      const span = exporter.getFinishedSpans().find((s) => s.name === "switchboard.turn");
      expect(span?.attributes["switchboard.error.code"]).toBe("not_found");
    });
  });
});
