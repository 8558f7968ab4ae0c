import { create } from "@bufbuild/protobuf";
import { type SendMessageRequest, type StreamResponse, TaskState } from "@a2a-js/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TurnStartSchema } from "../gen/switchboard/v1/agent_pb.js";
import { Action } from "../gen/switchboard/v1/turn_pb.js";
import type { AgentCall } from "../core/ports.js";
import type { A2aAgent, A2aCards } from "./a2a-cards.js";
import { a2aTaskKey, streamA2aTurn } from "./a2a-stream.js";
import type { StreamProgress } from "./agent-stream.js";
import type { LoopDelay } from "./loop-delay.js";

const card = "http://desk/.well-known/agent-card.json";
const loop: LoopDelay = { stalledSince: () => false, delayMs: () => 0 } as LoopDelay;

type Payload = NonNullable<StreamResponse["payload"]>;
const artifact = (text: string, append: boolean, id = "a"): Payload => ({
  $case: "artifactUpdate",
  value: { taskId: "t1", contextId: "s1", artifact: { artifactId: id, name: "", description: "", parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" }], metadata: undefined, extensions: [] }, append, lastChunk: false, metadata: undefined },
});
const status = (state: TaskState, text = ""): Payload => ({
  $case: "statusUpdate",
  value: {
    taskId: "t1",
    contextId: "s1",
    status: { state, timestamp: undefined, message: text === "" ? undefined : { messageId: "m", contextId: "s1", taskId: "t1", role: 2, parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "" }], metadata: undefined, extensions: [], referenceTaskIds: [] } },
    metadata: undefined,
  },
});

/**
 * fake is an A2A agent without sockets: each message it is sent answers
 * with the next script entry (events, or an error), and it records the
 * requests and cancels.
 */
function fake(...script: Array<Payload[] | Error>) {
  const sent: SendMessageRequest[] = [];
  const cancelled: string[] = [];
  const agent = {
    card: { name: "Desk" },
    via: { protocolBinding: "JSONRPC" },
    client: {
      async *sendMessageStream(req: SendMessageRequest) {
        sent.push(structuredClone(req));
        const next = script.shift() ?? [];
        if (next instanceof Error) throw next;
        for (const payload of next) yield { payload };
      },
      cancelTask: (req: { id: string }) => (cancelled.push(req.id), Promise.resolve()),
    },
  } as unknown as A2aAgent;
  const cards = { agent: () => Promise.resolve(agent), forget: () => {} } as unknown as A2aCards;
  return { cards, sent, cancelled };
}

function turn(state: Record<string, unknown> = {}) {
  const deltas: string[] = [];
  const progress: StreamProgress = { delivered: false, deliver: () => {} };
  const call: AgentCall = {
    agent: `a2a:${card}`,
    start: create(TurnStartSchema, { sessionId: "s1", turnId: "turn-1", stage: "weather", input: { text: "forecast" }, state: state as never }),
    signal: new AbortController().signal,
    timeoutMs: 5000,
    onDelta: (d) => void deltas.push(d.text),
  };
  return { call, deltas, progress };
}

describe("streamA2aTurn", () => {
  it("sends the turn in the session's context and streams artifact chunks as deltas; COMPLETED advances", async () => {
    const agent = fake([artifact("Sunny", false), artifact(" in Oslo", true), artifact("Tomorrow rain", false, "b"), status(TaskState.TASK_STATE_COMPLETED)]);
    const { call, deltas, progress } = turn();
    const result = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop);
    expect(deltas).toEqual(["Sunny", " in Oslo", "\nTomorrow rain"]);
    expect(result.text).toBe("Sunny in Oslo\nTomorrow rain");
    expect(result.next).toBeUndefined();
    expect(result.metadata).toMatchObject({ a2a_task_id: "t1", a2a_context_id: "s1", a2a_state: "completed" });
    const message = agent.sent[0]?.message;
    expect(message?.contextId).toBe("s1");
    expect(message?.taskId).toBe("");
    expect(message?.parts[0]?.content).toEqual({ $case: "text", value: "forecast" });
    expect(message?.metadata?.["switchboard"]).toMatchObject({ session_id: "s1", turn_id: "turn-1", stage: "weather", attempt: 1 });
  });

  it("maps INPUT_REQUIRED to a wait whose reason is the agent's question, keeping the task for the next turn", async () => {
    const agent = fake([status(TaskState.TASK_STATE_WORKING), status(TaskState.TASK_STATE_INPUT_REQUIRED, "Which city?")]);
    const { call, deltas, progress } = turn();
    const result = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop);
    expect(deltas).toEqual(["Which city?"]);
    expect(result.next?.action).toBe(Action.WAIT);
    expect(result.next?.reason).toBe("Which city?");
    expect(result.statePatch).toEqual({ [a2aTaskKey]: { card, task_id: "t1" } });
  });

  it("continues the waiting task, and clears it once the task completes", async () => {
    const agent = fake([artifact("Sunny", false), status(TaskState.TASK_STATE_COMPLETED)]);
    const { call, progress } = turn({ [a2aTaskKey]: { card, task_id: "t1" } });
    const result = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop);
    expect(agent.sent[0]?.message?.taskId).toBe("t1");
    expect(result.statePatch).toEqual({ [a2aTaskKey]: null });
  });

  it("starts a new task when the waiting one is refused before any event", async () => {
    const agent = fake(new Error("Task t1 is in a terminal state"), [artifact("Sunny", false), status(TaskState.TASK_STATE_COMPLETED)]);
    const { call, progress } = turn({ [a2aTaskKey]: { card, task_id: "t1" } });
    const result = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop);
    expect(agent.sent.map((r) => r.message?.taskId)).toEqual(["t1", ""]);
    expect(result.text).toBe("Sunny");
  });

  it("maps FAILED and REJECTED to a failed turn with the agent's reason", async () => {
    for (const [state, what] of [
      [TaskState.TASK_STATE_FAILED, "failed the task"],
      [TaskState.TASK_STATE_REJECTED, "rejected the task"],
    ] as const) {
      const agent = fake([status(state, "no forecasts today")]);
      const { call, progress } = turn();
      const result = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop);
      expect(result.next?.action).toBe(Action.FAIL);
      expect(result.next?.reason).toBe(`A2A agent Desk ${what}: no forecasts today`);
    }
  });

  it("fails with INTERNAL when the stream ends before the task does", async () => {
    const agent = fake([artifact("Sun", false)]);
    const { call, progress } = turn();
    const err = await streamA2aTurn(agent.cards, card, call, 1, 5000, progress, loop).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Internal);
    expect((err as ConnectError).rawMessage).toContain("A2A agent Desk closed the stream before its task finished");
  });
});
