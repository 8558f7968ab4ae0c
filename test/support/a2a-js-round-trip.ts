import { randomUUID } from "node:crypto";
import { type Artifact, CancelTaskRequest, GetTaskRequest, SendMessageRequest, type StreamResponse, type Task, TaskState } from "@a2a-js/sdk";
import { type Client, ClientFactory, ClientFactoryOptions } from "@a2a-js/sdk/client";
import { GrpcTransportFactory } from "@a2a-js/sdk/client/grpc";
import { credentials } from "@grpc/grpc-js";

/**
 * RoundTripSteps are what an A2A client saw at each step of the round
 * trip, by step name, in the shape test/a2a-python/round_trip.py prints.
 */
export type RoundTripSteps = Record<string, Record<string, unknown>>;

const stateName = (s: TaskState | undefined) => TaskState[s ?? 0] ?? String(s);
const texts = (artifacts: Artifact[]) => artifacts.map((a) => a.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join(""));

function message(m: { text?: string; contextId?: string; taskId?: string; data?: unknown; metadata?: Record<string, string> }): SendMessageRequest {
  const parts: unknown[] = [];
  if (m.text !== undefined) parts.push({ text: m.text });
  if (m.data !== undefined) parts.push({ data: m.data });
  return SendMessageRequest.fromJSON({
    message: { messageId: randomUUID(), role: "ROLE_USER", contextId: m.contextId ?? "", taskId: m.taskId ?? "", parts, metadata: m.metadata },
  });
}

async function send(client: Client, request: SendMessageRequest) {
  let task: Task | undefined;
  const kinds: string[] = [];
  const chunks: Array<{ text: string; append: boolean }> = [];
  let final: Task["status"];
  for await (const ev of client.sendMessageStream(request) as AsyncGenerator<StreamResponse>) {
    const p = ev.payload;
    if (p === undefined) continue;
    kinds.push(p.$case.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    if (p.$case === "task") {
      task = p.value;
      final = p.value.status;
    } else if (p.$case === "artifactUpdate") {
      chunks.push({ text: texts([p.value.artifact!])[0] ?? "", append: p.value.append });
    } else if (p.$case === "statusUpdate") {
      final = p.value.status;
    }
  }
  return { task: task!, kinds, chunks, final: final! };
}

/**
 * jsRoundTrip drives a flow with the A2A JS SDK's client (@a2a-js/sdk),
 * over JSON-RPC or its gRPC transport, step for step as the Python script does: card, send, get, stream, the
 * INPUT_REQUIRED round trip, cancel (the Talker's gate `gate` holds the
 * turn), and an unknown task.
 */
export async function jsRoundTrip(baseUrl: string, gate: string, transport: "jsonrpc" | "grpc" = "jsonrpc"): Promise<RoundTripSteps> {
  const steps: RoundTripSteps = {};
  const factory =
    transport === "jsonrpc"
      ? new ClientFactory()
      : new ClientFactory(
          ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
            transports: [new GrpcTransportFactory({ grpcChannelCredentials: credentials.createInsecure() })],
            preferredTransports: ["GRPC"],
          }),
        );
  const client = await factory.createFromUrl(baseUrl);
  const card = await client.getAgentCard();
  steps["card"] = {
    name: card.name,
    streaming: card.capabilities?.streaming,
    skills: card.skills.map((s) => s.id),
    interfaces: card.supportedInterfaces.map((i) => [i.protocolBinding, i.url, i.protocolVersion]),
  };

  const sent = await client.sendMessage(message({ text: "hello" }));
  if (!("status" in sent)) throw new Error("the flow answered with a message, not a task");
  const context = sent.contextId;
  steps["send"] = { task_id: sent.id, context_id: context, state: stateName(sent.status?.state), replies: texts(sent.artifacts) };
  const got = await client.getTask(GetTaskRequest.fromJSON({ id: sent.id }));
  steps["get"] = { task_id: got.id, state: stateName(got.status?.state), replies: texts(got.artifacts) };

  const streamed = await send(client, message({ text: "my code is 1234", contextId: context }));
  steps["stream"] = { kinds: streamed.kinds, chunks: streamed.chunks, state: stateName(streamed.final?.state) };

  const refund = await send(client, message({ text: "I want a refund of 250 for order B-9", contextId: context }));
  const waiting = texts([{ parts: refund.final?.message?.parts ?? [] } as Artifact])[0];
  steps["input_required"] = { task_id: refund.task.id, state: stateName(refund.final?.state), waiting };
  const answered = await send(
    client,
    message({ contextId: context, taskId: refund.task.id, data: { event: { type: "approval.granted" } }, metadata: { permissions: "refunds.approve", actor: "supervisor-7" } }),
  );
  steps["answered"] = { task_id: answered.task.id, state: stateName(answered.final?.state), reply: answered.chunks.map((c) => c.text).join("") };
  const gotAnswered = await client.getTask(GetTaskRequest.fromJSON({ id: refund.task.id }));
  steps["get_answered"] = { state: stateName(gotAnswered.status?.state), replies: texts(gotAnswered.artifacts) };

  let runningId = "";
  let cancelled: Task | undefined;
  const states: string[] = [];
  for await (const ev of client.sendMessageStream(message({ text: `gate:${gate}` })) as AsyncGenerator<StreamResponse>) {
    const p = ev.payload;
    if (p?.$case === "task") runningId = p.value.id;
    else if (p?.$case === "statusUpdate") states.push(stateName(p.value.status?.state));
    else if (p?.$case === "artifactUpdate" && cancelled === undefined) cancelled = await client.cancelTask(CancelTaskRequest.fromJSON({ id: runningId }));
  }
  const gotCancelled = await client.getTask(GetTaskRequest.fromJSON({ id: runningId }));
  steps["cancel"] = {
    cancel_state: stateName(cancelled?.status?.state),
    stream_states: states,
    get_state: stateName(gotCancelled.status?.state),
    replies: texts(gotCancelled.artifacts),
  };

  try {
    await client.getTask(GetTaskRequest.fromJSON({ id: `${context}~no-such-turn` }));
    steps["unknown_task"] = { error: null };
  } catch (e) {
    steps["unknown_task"] = { error: e instanceof Error ? e.constructor.name.replace(/^(JsonRpc|Grpc)/, "") : String(e) };
  }
  return steps;
}
