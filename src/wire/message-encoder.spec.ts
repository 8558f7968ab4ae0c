import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { describe, expect, it } from "vitest";
import { HandleTurnRequestSchema, TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { ConverseRequestSchema, SendTurnResponseSchema } from "../gen/switchboard/v1/orchestrator_pb.js";
import { RolloutGuardSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { Role, TranscriptEntrySchema } from "../gen/switchboard/v1/turn_pb.js";
import { grpcFrame } from "./message-encoder.js";
import * as a2a from "../gen/lf/a2a/v1/a2a_pb.js";
import * as health from "../gen/grpc/health/v1/health_pb.js";
import * as reflectionV1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as orchestrator from "../gen/switchboard/v1/orchestrator_pb.js";
import * as registry from "../gen/switchboard/v1/registry_pb.js";
import * as rollout from "../gen/switchboard/v1/rollout_pb.js";
import * as session from "../gen/switchboard/v1/session_pb.js";

/** same checks that grpcFrame gives the bytes protobuf-es and Connect give. */
function same<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): void {
  const message = create(schema, init);
  expect(grpcFrame(schema, message)).toEqual(encodeEnvelope(0, toBinary(schema, message)));
}

const history = Array.from({ length: 20 }, (_, i) =>
  create(TranscriptEntrySchema, { role: i % 2 === 0 ? Role.USER : Role.AGENT, text: `words of entry ${i} `.repeat(i), turnId: `t${i}`, stage: "chat", agent: i % 2 === 0 ? "" : "echo" }),
);

describe("grpcFrame", () => {
  it("frames an empty message", () => same(TurnStartSchema, {}));

  it("frames a turn's start with its history, state and metadata", () =>
    same(TurnStartSchema, {
      sessionId: "s-1",
      turnId: "t-1",
      flowId: "bench-1",
      stage: "chat",
      input: { text: "hello", metadata: { a: "1", "": "" }, event: { type: "payment.failed", data: { amount: 12.5, ok: false } } },
      state: { turns: 3, last_heard: "hello", nested: { list: [1, "two", null, true, { deep: [] }], empty: {} }, zero: 0, neg: -1.5, nil: null },
      history,
      budget: durationFromMs(29_500),
      attempt: 2,
      metadata: { traceparent: "00-abc-def-01", "x-key": "value" },
      inputStreaming: true,
    }));

  it("frames text that is not ASCII and strings longer than 127 bytes", () =>
    same(TurnStartSchema, { sessionId: "séance", stage: "日本語", intent: "emoji 😀 lone \ud800", handoffFrom: "x".repeat(300), history: [create(TranscriptEntrySchema, { text: "é".repeat(5000) })] }));

  it("frames oneofs, bytes and negative numbers", () => {
    same(HandleTurnRequestSchema, { kind: { case: "start", value: { sessionId: "s", attempt: -7 } } });
    same(HandleTurnRequestSchema, { kind: { case: "input", value: { text: "", final: true, audio: new Uint8Array([0, 1, 255]) } } });
    same(HandleTurnRequestSchema, { kind: { case: "input", value: { text: "" } } });
  });

  it("frames a response with its session: 64-bit versions, timestamps, maps and enums", () =>
    same(SendTurnResponseSchema, {
      sessionId: "s",
      output: "You said: hi",
      isComplete: true,
      session: {
        id: "s",
        version: 123_456_789_012n,
        lastSeq: 2n ** 64n - 1n,
        status: SessionStatus.WAITING,
        completedStages: Array.from({ length: 100 }, () => "chat"),
        stageVisits: { chat: 100, other: 0 },
        createTime: timestampFromMs(1_700_000_000_123),
        history,
        tally: { turns: 5, agents: ["echo"], stageDurations: { chat: durationFromMs(1500) } },
      },
    }));

  it("frames proto3 optional fields, set to zero or not set", () => {
    same(ConverseRequestSchema, { kind: { case: "bargeIn", value: { turnId: "t", heardChars: 0 } } });
    same(ConverseRequestSchema, { kind: { case: "bargeIn", value: { turnId: "t", heardChars: 12, heardMs: -3 } } });
    same(ConverseRequestSchema, { kind: { case: "open", value: { sessionId: "s", resumeAfterSeq: 0n } } });
  });

  it("frames doubles, -0 as an unset one", () => {
    same(RolloutGuardSchema, { margin: 0.05, minSessions: 10 });
    same(RolloutGuardSchema, { margin: -0 });
    same(RolloutGuardSchema, { margin: Number.NaN });
  });

  it("frames a google.protobuf.Value as a message", () => same(ValueSchema, { kind: { case: "structValue", value: { fields: { a: { kind: { case: "numberValue", value: 1 } } } } } }));

  it("hands what it does not write to protobuf-es, which throws as it did", () => {
    const bad = create(TurnStartSchema, { attempt: 1 });
    (bad as { attempt: unknown }).attempt = 1.5;
    expect(() => grpcFrame(TurnStartSchema, bad)).toThrow(/attempt/);
    const unknown = create(TurnStartSchema, { sessionId: "s" });
    unknown.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([5]) }];
    expect(grpcFrame(TurnStartSchema, unknown)).toEqual(encodeEnvelope(0, toBinary(TurnStartSchema, unknown)));
  });

  it("gives each call its own bytes", () => {
    const a = grpcFrame(TurnStartSchema, create(TurnStartSchema, { sessionId: "a" }));
    const copy = a.slice();
    grpcFrame(TurnStartSchema, create(TurnStartSchema, { sessionId: "b", history }));
    expect(a).toEqual(copy);
  });

  // The server frames every reply of every service it serves with it.
  it("frames an empty message of every service the server answers for", () => {
    for (const mod of [a2a, health, reflectionV1, orchestrator, registry, rollout, session]) {
      for (const [name, value] of Object.entries(mod)) {
        if (!name.endsWith("Schema") || (value as { kind?: string }).kind !== "message") continue;
        same(value as DescMessage, {});
      }
    }
  });

  it("frames an A2A task with its parts, status, artifacts and metadata", () =>
    same(a2a.TaskSchema, {
      id: "s~t1",
      contextId: "s",
      status: { state: a2a.TaskState.WORKING, message: { messageId: "m", role: a2a.Role.AGENT, parts: [{ content: { case: "text", value: "part one" } }] }, timestamp: timestampFromMs(1_700_000_000_000) },
      artifacts: [
        {
          artifactId: "a",
          parts: [
            { content: { case: "text", value: "héllo" }, mediaType: "text/plain" },
            { content: { case: "raw", value: new Uint8Array([1, 2, 3]) }, filename: "f.bin" },
            { content: { case: "data", value: { kind: { case: "listValue", value: { values: [{ kind: { case: "boolValue", value: true } }] } } } } },
          ],
        },
      ],
      history: [{ messageId: "u", role: a2a.Role.USER, parts: [{ content: { case: "url", value: "https://example.com/a" } }] }],
      metadata: { flow: "contact-centre", version: 2 },
    }));
});
