import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createClient, type Client, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentService,
  DescribeResponseSchema,
  type HandleTurnRequest,
  type HandleTurnResponse,
  HandleTurnResponseSchema,
} from "../src/gen/switchboard/v1/agent_pb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { echoAgent } from "../agents/echo/agent.js";
import type { Turn } from "../src/sdk/index.js";
import { HttpServer } from "../src/server/http-server.js";
import { Redactor, presets } from "../src/server/redaction.js";
import { type InProcess, startInProcess } from "./support/in-process.js";

/**
 * What operators see of a running orchestrator: Prometheus metrics,
 * OpenTelemetry spans, and log lines with redacted personal data.
 */
describe("metrics endpoint", () => {
  let sb: InProcess;
  let client: Client<typeof OrchestratorService>;

  // An echo agent that holds a turn saying "hold" until the test lets go.
  let release = () => {};
  let arrived = () => {};
  const held = new Promise<void>((resolve) => (arrived = resolve));
  const agent = {
    card: echoAgent.card,
    handler: (turn: Turn) => {
      if (turn.text !== "hold") return echoAgent.handler(turn);
      arrived();
      return new Promise<string>((resolve) => (release = () => resolve("let go")));
    },
  };

  beforeAll(async () => {
    sb = await startInProcess({ agent, operability: { metricsListen: { host: "127.0.0.1", port: 0 } } });
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
  });
  afterAll(async () => sb?.close());

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${sb.orchestrator.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    return res.text();
  };
  const value = (text: string, series: string): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it("shows turns, latencies, store calls, streams, retries and breakers after a few turns", async () => {
    await client.sendTurn({ sessionId: "m-1", input: { text: "hi" } });
    await client.sendTurn({ sessionId: "m-1", input: { text: "again" } });
    await client.sendTurn({ sessionId: "m-2", input: { text: "hi" } });
    await client.sendTurn({ sessionId: "m-1", input: { text: "bye" } });
    // The session has ended: this turn fails.
    await expect(client.sendTurn({ sessionId: "m-1", input: { text: "still there?" } })).rejects.toThrow();
    // The mesh reports retries and breaker states through the same metrics.
    sb.orchestrator.metrics.retried("echo", 2);
    sb.orchestrator.metrics.breakerState("echo", "http://10.0.0.7:7001", "open");

    const text = await scrape();
    expect(value(text, 'switchboard_turns_total{flow="assistant",stage="greeting",status="ok"}')).toBe(2);
    expect(value(text, 'switchboard_turns_total{flow="assistant",stage="conversation",status="ok"}')).toBe(2);
    expect(text.split("\n").filter((l) => l.startsWith("switchboard_turns_total{") && l.includes('status="failed"'))).toEqual([
      'switchboard_turns_total{flow="assistant",stage="conversation",status="failed"} 1',
    ]);
    expect(value(text, 'switchboard_turn_duration_seconds_count{flow="assistant",status="ok"}')).toBe(4);
    expect(value(text, 'switchboard_turn_duration_seconds_bucket{le="+Inf",flow="assistant",status="ok"}')).toBe(4);
    expect(value(text, 'switchboard_agent_call_duration_seconds_count{agent="echo",outcome="ok"}')).toBe(4);
    expect(value(text, 'switchboard_store_operation_duration_seconds_count{operation="commit",outcome="ok"}')).toBe(4);
    expect(value(text, 'switchboard_store_operation_duration_seconds_count{operation="load",outcome="ok"}')).toBeGreaterThanOrEqual(5);
    expect(value(text, 'switchboard_open_streams{method="switchboard.v1.OrchestratorService/SendTurn"}')).toBe(0);
    expect(value(text, 'switchboard_agent_retries_total{agent="echo"}')).toBe(2);
    expect(value(text, 'switchboard_breaker_state{agent="echo",instance="http://10.0.0.7:7001"}')).toBe(2);
    expect(text).toContain("# TYPE switchboard_turn_duration_seconds histogram");
    expect(text).toContain("switchboard_process_cpu_seconds_total");
  });

  it("counts a call as open while it runs", async () => {
    const running = client.sendTurn({ sessionId: "m-3", input: { text: "hold" } });
    await held;
    const series = 'switchboard_open_streams{method="switchboard.v1.OrchestratorService/SendTurn"}';
    expect(value(await scrape(), series)).toBe(1);
    release();
    await running;
    expect(value(await scrape(), series)).toBe(0);
  });

  it("answers 404 off the metrics path", async () => {
    const res = await fetch(`http://127.0.0.1:${sb.orchestrator.metricsPort}/other`);
    expect(res.status).toBe(404);
  });
});

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const seen: Array<{ header: string | null; metadata: string | undefined }> = [];
  let agentServer: HttpServer;
  let sb: InProcess;
  let client: Client<typeof OrchestratorService>;

  // An agent that records the trace context it receives, as a header and
  // in TurnStart.metadata.
  async function* handleTurn(requests: AsyncIterable<HandleTurnRequest>, ctx: HandlerContext): AsyncGenerator<HandleTurnResponse> {
    for await (const req of requests) {
      if (req.kind.case !== "start") continue;
      seen.push({ header: ctx.requestHeader.get("traceparent"), metadata: req.kind.value.metadata["traceparent"] });
      yield create(HandleTurnResponseSchema, { kind: { case: "result", value: { text: "traced" } } });
      return;
    }
  }

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    agentServer = new HttpServer(
      connectNodeAdapter({
        routes: (router: ConnectRouter) =>
          router.service(AgentService, { handleTurn, describe: () => create(DescribeResponseSchema, {}) }),
      }),
      { host: "127.0.0.1", port: 0 },
    );
    const agentPort = await agentServer.listen();
    sb = await startInProcess({ agentUrl: `http://127.0.0.1:${agentPort}` });
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
  });
  afterAll(async () => {
    await sb?.close();
    await agentServer?.close();
    trace.disable();
  });

  it("continues the gateway's trace: the turn is a span with children for the store and the agent call", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const gatewaySpan = "00f067aa0ba902b7";
    exporter.reset();
    seen.length = 0;
    await client.sendTurn(
      { sessionId: "traced-1", input: { text: "hi" } },
      { headers: { traceparent: `00-${traceId}-${gatewaySpan}-01` } },
    );
    const spans = exporter.getFinishedSpans();
    const turn = spans.find((s) => s.name === "switchboard.turn");
    expect(turn).toBeDefined();
    expect(turn?.spanContext().traceId).toBe(traceId);
    expect(turn?.parentSpanContext?.spanId).toBe(gatewaySpan);
    expect(turn?.attributes["switchboard.session_id"]).toBe("traced-1");
    expect(turn?.attributes["switchboard.stage"]).toBe("greeting");
    const children = spans.filter((s) => s.parentSpanContext?.spanId === turn?.spanContext().spanId).map((s) => s.name);
    expect(children).toContain("switchboard.store.load");
    expect(children).toContain("switchboard.store.commit");
    expect(children).toContain("switchboard.agent echo");
    for (const s of spans) expect(s.spanContext().traceId).toBe(traceId);

    // The agent continues the trace under the agent-call span.
    const agentSpan = spans.find((s) => s.name === "switchboard.agent echo");
    const expected = `00-${traceId}-${agentSpan?.spanContext().spanId}-01`;
    expect(seen).toEqual([{ header: expected, metadata: expected }]);
  });

  it("starts a new trace when the caller sends none, and marks failed turns", async () => {
    exporter.reset();
    await client.sendTurn({ sessionId: "traced-2", input: { text: "hi" } });
    await client.deleteSession({ sessionId: "traced-2" });
    const turn = exporter.getFinishedSpans().find((s) => s.name === "switchboard.turn");
    expect(turn?.parentSpanContext).toBeUndefined();
    expect(turn?.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);

    exporter.reset();
    const err = await client.sendTurn({ sessionId: "traced-3", flowId: "no-such-flow", input: { text: "hi" } }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
    const failed = exporter.getFinishedSpans().find((s) => s.name === "switchboard.turn");
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes["switchboard.error.code"]).toBe("not_found");
  });
});

describe("logs", () => {
  let sb: InProcess;
  let client: Client<typeof OrchestratorService>;
  const card = "4111 1111 1111 1111";
  const spoken = "four one one one one one one one one one one one one one one one";

  beforeAll(async () => {
    sb = await startInProcess({
      logLevel: "debug",
      operability: {
        redactor: new Redactor([presets["card"]!, { name: "account", regex: /\bACC-\d{6,}\b/g }], ["accountId"], true),
      },
    });
    client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url }));
  });
  afterAll(async () => sb?.close());

  it("writes one line per turn and per agent call with session, turn and trace ids", async () => {
    await client.sendTurn(
      { sessionId: "logged-1", turnId: "t-1", accountId: "acct-secret-9", input: { text: "hello" } },
      { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } },
    );
    const turn = sb.logs.lines.filter((l) => l["msg"] === "turn" && l["sessionId"] === "logged-1");
    const call = sb.logs.lines.filter((l) => l["msg"] === "agent call" && l["sessionId"] === "logged-1");
    expect(turn).toHaveLength(1);
    expect(call).toHaveLength(1);
    expect(turn[0]).toMatchObject({ turnId: "t-1", traceId: "0af7651916cd43dd8448eb211c80319c", status: "ok", flow: "assistant" });
    expect(call[0]).toMatchObject({ turnId: "t-1", traceId: "0af7651916cd43dd8448eb211c80319c", agent: "echo", outcome: "ok" });
    // accountId is a configured sensitive field.
    expect(turn[0]?.["accountId"]).toBe("[redacted]");
  });

  it("redacts card numbers, typed or spoken, and account numbers in logs and in the stored audit trail", async () => {
    const text = `my card is ${card}, or ${spoken}, account ACC-1234567`;
    await client.sendTurn({ sessionId: "logged-2", input: { text } });
    const raw = sb.logs.raw.join("\n");
    expect(raw).toContain("logged-2");
    expect(raw).toContain("[redacted:card]");
    expect(raw).not.toContain(card);
    expect(raw).not.toContain(spoken);
    expect(raw).not.toContain("ACC-1234567");

    const { steps } = await client.listSteps({ sessionId: "logged-2" });
    expect(steps[0]?.input?.text).toBe("my card is [redacted:card], or [redacted:card], account [redacted:account]");
    expect(steps[0]?.output).not.toContain("4111");
    const { session } = await client.getSession({ sessionId: "logged-2" });
    expect(JSON.stringify(session?.history.map((h) => h.text))).not.toContain("4111");
  });

  it("leaves numbers that are not card numbers alone", async () => {
    const r = new Redactor([presets["card"]!], []);
    expect(r.text("order 1234 5678 9012 3456 shipped")).toBe("order 1234 5678 9012 3456 shipped");
    expect(r.text(`pay with ${card} now`)).toBe("pay with [redacted:card] now");
  });
});

describe("logs at info level", () => {
  let sb: InProcess;
  beforeAll(async () => {
    sb = await startInProcess({});
  });
  afterAll(async () => sb?.close());

  it("has one line per turn; an agent call has its own line only at debug level", async () => {
    await createClient(OrchestratorService, createGrpcTransport({ baseUrl: sb.url })).sendTurn({ sessionId: "info-lines", input: { text: "hi" } });
    const lines = sb.logs.lines.filter((l) => l["sessionId"] === "info-lines");
    expect(lines.map((l) => l["msg"])).toEqual(["turn"]);
    expect(lines[0]).toMatchObject({ agent: "echo", status: "ok" });
  });
});
