import { randomUUID } from "node:crypto";
import { type JsonObject, create } from "@bufbuild/protobuf";
import { type Message, type Part, Role, type SendMessageRequest, TaskState } from "@a2a-js/sdk";
import { Code, ConnectError } from "@connectrpc/connect";
import { OutputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import { Action, type AgentResult, AgentResultSchema } from "../gen/switchboard/v1/turn_pb.js";
import type { AgentCall } from "../core/ports.js";
import { type A2aAgent, type A2aCards, connectionReason } from "./a2a-cards.js";
import { attemptError, type StreamProgress } from "./agent-stream.js";
import { excuseAsLate } from "./breaker.js";
import { isConnectionFailure } from "./connection-pool.js";
import type { LoopDelay } from "./loop-delay.js";

/**
 * a2aTaskKey is the session state key that holds the A2A task waiting for
 * the user's input (`{card, task_id}`), so the next turn continues that task.
 */
export const a2aTaskKey = "a2a_task";

/** How long a cancel of an abandoned task may take; it is not waited for. */
const cancelTimeoutMs = 2000;

/** Where an A2A task ends a turn, as the mesh maps it. */
type Settled = { state: TaskState; taskId: string; text: string };

/**
 * streamA2aTurn runs one attempt of a turn on an A2A agent: it reads the
 * agent's card (cached, see A2aCards), sends the turn's input as a
 * streaming message with the session as its `contextId`, forwards the text
 * of artifact updates as output deltas, and maps where the task ends onto
 * the agent's result: COMPLETED advances the flow, INPUT_REQUIRED waits
 * for the user (the task continues next turn), FAILED, REJECTED, CANCELED
 * and AUTH_REQUIRED fail the turn with the agent's reason. Its deadline is
 * `timeoutMs`: when it passes or the caller's signal aborts, the stream is
 * cut and the task cancelled. Errors are those of streamTurn: the same
 * codes, the same marks, the same excuse of a late event loop.
 */
export async function streamA2aTurn(
  cards: A2aCards,
  cardUrl: string,
  call: AgentCall,
  attempt: number,
  timeoutMs: number,
  progress: StreamProgress,
  loop: LoopDelay,
): Promise<AgentResult> {
  const stop = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    stop.abort(new ConnectError("deadline", Code.DeadlineExceeded));
  }, Math.max(1, Math.floor(timeoutMs)));
  const onAbort = () => stop.abort(call.signal.reason);
  if (call.signal.aborted) onAbort();
  else call.signal.addEventListener("abort", onAbort, { once: true });
  const t0 = performance.now();
  let agent: A2aAgent | undefined;
  let task: TaskStream | undefined;
  try {
    agent = await cards.agent(cardUrl, stop.signal);
    const request = await requestOf(call, cardUrl, attempt);
    task = new TaskStream(agent, call, progress, stop.signal);
    let settled: Settled;
    try {
      settled = await task.run(request);
    } catch (e) {
      // The task that waited for input may be gone (the agent restarted, or
      // the task ended meanwhile); nothing was said yet, so a new task in
      // the same context takes the turn rather than the session sticking.
      const message = request.message;
      if (message === undefined || message.taskId === "" || task.events > 0 || stop.signal.aborted || isConnectionFailure(e)) throw e;
      message.taskId = "";
      settled = await task.run(request);
    }
    return resultOf(agent, cardUrl, call, settled, task.output.text);
  } catch (e) {
    // fetch says only "fetch failed"; the reason is in its cause.
    const reason = isConnectionFailure(e) ? new ConnectError(connectionReason(e), Code.Unavailable, undefined, undefined, e) : e;
    const err = attemptError(call, cardUrl, reason, progress.delivered, expired);
    if (err.code === Code.DeadlineExceeded && loop.stalledSince(t0)) excuseAsLate(err);
    // A card that cannot be reached may have moved: read it again next time.
    if (isConnectionFailure(e) || err.code === Code.Unavailable) cards.forget(cardUrl);
    throw err;
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener("abort", onAbort);
    if (stop.signal.aborted && task?.settled === undefined && task?.taskId && agent !== undefined) cancelTask(agent, task.taskId);
    // Ends the HTTP response of a stream left before its end.
    stop.abort();
  }
}

/**
 * TaskStream reads the event stream of one message: it forwards the text
 * of artifact updates as output and stops where the task ends the turn.
 */
class TaskStream {
  /** The task's id, once the agent named it (or the one continued). */
  taskId = "";
  /** Events received so far. */
  events = 0;
  settled: Settled | undefined;
  readonly output = new ArtifactText();

  constructor(
    private readonly agent: A2aAgent,
    private readonly call: AgentCall,
    private readonly progress: StreamProgress,
    private readonly signal: AbortSignal,
  ) {}

  /** run sends the message and reads its stream to where the turn ends. */
  async run(request: SendMessageRequest): Promise<Settled> {
    this.taskId = request.message?.taskId ?? "";
    for await (const event of this.agent.client.sendMessageStream(request, { signal: this.signal })) {
      this.events++;
      const p = event.payload;
      if (p === undefined) continue;
      if (p.$case === "message") {
        // A plain message is a complete answer without a task.
        await this.deliver(this.output.add(textOf(p.value.parts), false));
        this.settled = { state: TaskState.TASK_STATE_COMPLETED, taskId: this.taskId, text: "" };
      } else if (p.$case === "artifactUpdate") {
        this.taskId ||= p.value.taskId;
        const a = p.value.artifact;
        if (a !== undefined) await this.deliver(this.output.add(textOf(a.parts), p.value.append));
      } else {
        this.taskId ||= p.$case === "task" ? p.value.id : p.value.taskId;
        const status = p.value.status;
        if (status !== undefined && ends(status.state)) {
          this.settled = { state: status.state, taskId: this.taskId, text: textOf(status.message?.parts ?? []) };
        }
      }
      if (this.settled !== undefined) break;
    }
    const settled = this.settled;
    if (settled === undefined) {
      throw new ConnectError(`A2A agent ${this.agent.card.name} closed the stream before its task finished`, Code.Internal);
    }
    // The question of INPUT_REQUIRED, or a final message, is what the user hears when nothing else was said.
    if (settled.state === TaskState.TASK_STATE_INPUT_REQUIRED || this.output.text === "") await this.deliver(this.output.add(settled.text, false));
    return settled;
  }

  private async deliver(text: string): Promise<void> {
    if (text === "") return;
    this.progress.deliver(text);
    // A slow caller paces the agent: no more of its stream is read until the caller took this piece.
    const paced = this.call.onDelta(create(OutputDeltaSchema, { text }));
    if (paced !== undefined) await paced;
  }
}

/**
 * ends tells whether a task state ends the turn: a terminal state, or one
 * that waits for the user.
 */
function ends(state: TaskState): boolean {
  return state !== TaskState.TASK_STATE_SUBMITTED && state !== TaskState.TASK_STATE_WORKING && state !== TaskState.TASK_STATE_UNSPECIFIED;
}

/**
 * requestOf builds the message of a turn: its text (streamed input read to
 * its end first: A2A takes a message whole), its event as a data part, the
 * session as the context, the task waiting for input when this agent asked
 * for it, and where the turn stands in the flow as metadata.
 */
async function requestOf(call: AgentCall, cardUrl: string, attempt: number): Promise<SendMessageRequest> {
  const s = call.start;
  let text = s.input?.text ?? "";
  if (call.input !== undefined) for await (const d of call.input) text += d.text;
  const parts: Part[] = [];
  if (text !== "") parts.push(part({ $case: "text", value: text }));
  const event = s.input?.event;
  if (event !== undefined) parts.push(part({ $case: "data", value: { event: event.type, data: event.data ?? {} } }));
  if (parts.length === 0) parts.push(part({ $case: "text", value: "(no input)" }));
  const pending = s.state?.[a2aTaskKey] as JsonObject | undefined;
  const taskId = pending !== undefined && pending !== null && pending["card"] === cardUrl && typeof pending["task_id"] === "string" ? pending["task_id"] : "";
  const message: Message = {
    messageId: randomUUID(),
    contextId: s.sessionId,
    taskId,
    role: Role.ROLE_USER,
    parts,
    metadata: {
      switchboard: {
        session_id: s.sessionId,
        turn_id: s.turnId,
        flow_id: s.flowId,
        stage: s.stage,
        intent: s.intent,
        handoff_from: s.handoffFrom,
        attempt,
        ...(s.input?.metadata !== undefined ? { input_metadata: s.input.metadata } : {}),
      },
    },
    extensions: [],
    referenceTaskIds: [],
  };
  return { tenant: "", message, configuration: undefined, metadata: undefined };
}

function part(content: Part["content"]): Part {
  return { content, metadata: undefined, filename: "", mediaType: "" };
}

/** textOf joins the text parts of a message or artifact. */
function textOf(parts: readonly Part[]): string {
  let text = "";
  for (const p of parts) if (p.content?.$case === "text") text += p.content.value;
  return text;
}

/**
 * ArtifactText is the reply as artifact updates built it. A chunk that
 * appends to its artifact continues it; a chunk that starts an artifact
 * starts a new paragraph when text came before. A chunk that replaces an
 * artifact already spoken cannot take back what the user heard: it is said
 * after it.
 */
class ArtifactText {
  text = "";

  /** add takes a chunk and returns the text to send on. */
  add(chunk: string, append: boolean): string {
    if (chunk === "") return "";
    const piece = !append && this.text !== "" ? `\n${chunk}` : chunk;
    this.text += piece;
    return piece;
  }
}

/**
 * resultOf maps where the task ended onto the agent's result for the flow.
 */
function resultOf(agent: A2aAgent, cardUrl: string, call: AgentCall, s: Settled, text: string): AgentResult {
  const name = agent.card.name || cardUrl;
  const metadata: Record<string, string> = {
    a2a_task_id: s.taskId,
    a2a_context_id: call.start.sessionId,
    a2a_state: TaskState[s.state]?.replace("TASK_STATE_", "").toLowerCase() ?? String(s.state),
    a2a_binding: agent.via.protocolBinding,
  };
  const waiting = call.start.state?.[a2aTaskKey] !== undefined && call.start.state?.[a2aTaskKey] !== null;
  switch (s.state) {
    case TaskState.TASK_STATE_COMPLETED:
      return create(AgentResultSchema, { text, metadata, ...(waiting ? { statePatch: { [a2aTaskKey]: null } } : {}) });
    case TaskState.TASK_STATE_INPUT_REQUIRED:
      return create(AgentResultSchema, {
        text,
        metadata,
        statePatch: { [a2aTaskKey]: { card: cardUrl, task_id: s.taskId } },
        next: { action: Action.WAIT, reason: s.text || `input for A2A agent ${name}` },
      });
    default: {
      const what =
        s.state === TaskState.TASK_STATE_REJECTED
          ? "rejected the task"
          : s.state === TaskState.TASK_STATE_AUTH_REQUIRED
            ? "asked for authentication, which Switchboard does not provide to A2A agents"
            : s.state === TaskState.TASK_STATE_CANCELED
              ? "cancelled the task"
              : "failed the task";
      return create(AgentResultSchema, { text, metadata, next: { action: Action.FAIL, reason: `A2A agent ${name} ${what}${s.text ? `: ${s.text}` : ""}` } });
    }
  }
}

/**
 * cancelTask asks the agent to stop a task the turn gave up on. Nobody
 * waits for the answer: the turn has already ended.
 */
function cancelTask(agent: A2aAgent, taskId: string): void {
  agent.client
    .cancelTask({ tenant: "", id: taskId, metadata: undefined }, { signal: AbortSignal.timeout(cancelTimeoutMs) })
    .catch(() => {
      // The agent may have finished, forgotten or never started the task.
    });
}
