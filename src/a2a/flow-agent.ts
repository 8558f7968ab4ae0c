import { randomUUID } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type AgentCard,
  type CancelTaskRequest,
  type GetTaskRequest,
  type Message,
  type SendMessageRequest,
  type StreamResponse,
  type Task,
  TaskState,
  type SubscribeToTaskRequest,
} from "@a2a-js/sdk";
import type { A2ARequestHandler, ServerCallContext } from "@a2a-js/sdk/server";
import {
  ExtendedAgentCardNotConfiguredError,
  PushNotificationNotSupportedError,
  RequestMalformedError,
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
} from "@a2a-js/sdk/errors";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { SessionStore } from "../core/ports.js";
import type { RerunPolicy, TurnRequest } from "../core/turn-request.js";
import { EventQueue } from "../server/event-queue.js";
import { identityOf, tenantScopeOf, type TenantScope } from "../server/identity.js";
import { turnRequest } from "../server/orchestrator-service.js";
import type { SessionHub, TurnEnd } from "../server/session-hub.js";
import type { EntryCall, TurnEntry } from "../server/turn-entry.js";
import { agentCardOf, type CardPlace } from "./agent-card.js";
import { malformedWhenInvalid } from "./a2a-errors.js";
import { turnInputOf } from "./message-input.js";
import { readTask } from "./task-reader.js";
import { isTurnEnd, statusUpdate, updatesOf } from "./task-stream.js";
import { belongsToTask, firstTurnId, laterTurnId, parseTaskId, type TaskRef, taskIdOf } from "./task-ids.js";
import { isTerminal, replyArtifact, type TaskEnd, taskOf } from "./task-view.js";

/**
 * A2aCall is the Switchboard side of one A2A request, as its transport
 * (JSON-RPC or gRPC) made it: the caller's identity and headers, its
 * cancellation and deadline.
 */
export interface A2aCall {
  ctx: Pick<HandlerContext, "values" | "requestHeader">;
  signal: AbortSignal;
  deadline: number | undefined;
}

/** callKey is where a transport puts the A2aCall in the SDK's ServerCallContext. */
export const callKey = "switchboard.call";

/**
 * FlowAgentDeps are what a flow needs to answer as an A2A agent.
 */
export interface FlowAgentDeps {
  entry: TurnEntry;
  hub: SessionHub;
  store: SessionStore;
  /** The most bytes of events a stream holds for a slow reader. */
  streamBufferBytes: number;
}

const whenDraining = "send the message to another replica";

/**
 * FlowAgent answers the A2A protocol for one flow, as the SDK's
 * A2ARequestHandler, so the SDK's JSON-RPC transport and our gRPC binding
 * serve it alike. Its mapping: a context is a session, a task is a turn
 * (with the turns that answer its INPUT_REQUIRED), a message is a turn's
 * input; every turn enters through the turn entry like any other
 * (admission, rate, tracing, audit trail). Getting a task reads the
 * session and its audit trail; resubscribing watches the session;
 * cancelling barges in on the running turn.
 */
export class FlowAgent implements A2ARequestHandler {
  constructor(
    private readonly deps: FlowAgentDeps,
    private readonly flow: Flow,
    private readonly place: CardPlace,
  ) {}

  async getAgentCard(): Promise<AgentCard> {
    return agentCardOf(this.flow, this.place);
  }

  async getAuthenticatedExtendedAgentCard(_params: unknown, context: ServerCallContext): Promise<AgentCard> {
    if (this.place.security.bearer === "none") {
      throw new ExtendedAgentCardNotConfiguredError("this orchestrator authenticates nobody, so it has no extended card: the public card is all there is");
    }
    const identity = identityOf(callOf(context).ctx);
    const tenant = identity === undefined || identity.tenant === "*" ? "" : identity.tenant;
    return agentCardOf(this.flow, { ...this.place, tenant }, true);
  }

  async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    const call = callOf(context);
    const { turn, ref } = await this.prepare(params, context, "anytime");
    if (params.configuration?.returnImmediately === true) {
      // The caller reads the task's end with GetTask.
      void this.deps.entry.run(turn, entryCall(call));
      return taskOf(ref, turn.turnId, { kind: "working" });
    }
    return this.taskAfter(ref, turn, await this.deps.entry.run(turn, entryCall(call)));
  }

  async *sendMessageStream(params: SendMessageRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    const call = callOf(context);
    const { turn, ref, lastSeq } = await this.prepare(params, context, "before-output");
    const submitted = taskOf(ref, turn.turnId, { kind: "working" });
    yield { payload: { $case: "task", value: { ...submitted, status: { ...submitted.status!, state: TaskState.TASK_STATE_SUBMITTED } } } };
    const { hub } = this.deps;
    const queue = new EventQueue(this.deps.streamBufferBytes);
    let watching: Promise<void> = Promise.resolve();
    const run = this.deps.entry
      .run(turn, {
        ...entryCall(call),
        streams: {
          // Watched once the turn holds its session (a new session exists
          // from then on), from where the session stood before it: the
          // turn's events are all replayed, and only its own are sent.
          onBegin: () => {
            watching = hub.watch(turn.sessionId, queue, lastSeq, call.signal).catch((e: unknown) => queue.fail(ConnectError.from(e)));
          },
        },
      })
      .then(async (end) => {
        await watching;
        queue.end();
        return end;
      });
    const state = { started: new Set<string>(), newLine: new Set<string>() };
    try {
      for await (const ev of queue) {
        if (ev.turnId === turn.turnId) yield* updatesOf(ev, ref, state);
      }
    } finally {
      hub.release(turn.sessionId, queue);
    }
    const end = await run;
    if ("result" in end && !state.started.has(turn.turnId) && end.result.output !== "") {
      // A replayed turn streams nothing: its stored reply is the artifact.
      const artifact = replyArtifact(turn.turnId, end.result.output);
      yield { payload: { $case: "artifactUpdate", value: { taskId: taskIdOf(ref), contextId: ref.sessionId, artifact, append: false, lastChunk: true, metadata: undefined } } };
    }
    const final = this.taskAfter(ref, turn, end);
    yield statusUpdate(ref, final.status!, final.metadata as Record<string, string>);
  }

  async getTask(params: GetTaskRequest, context: ServerCallContext): Promise<Task> {
    return (await readTask(this.deps.store, this.deps.hub, refOf(params.id), this.scope(context))).task;
  }

  async cancelTask(params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    const ref = refOf(params.id);
    const scope = this.scope(context);
    const read = await readTask(this.deps.store, this.deps.hub, ref, scope);
    const state = read.task.status?.state;
    if (state !== TaskState.TASK_STATE_WORKING) {
      throw new TaskNotCancelableError(
        `task ${params.id} is ${TaskState[state ?? 0]}: only a running turn can be cancelled` +
          (state === TaskState.TASK_STATE_INPUT_REQUIRED ? "; the task waits for input, so answer it or leave it" : ""),
      );
    }
    await this.untilTurnEnds(ref.sessionId, read.turnId, callOf(context).signal, async () => {
      await this.deps.hub.bargeIn(ref.sessionId, read.turnId, {});
    });
    return (await readTask(this.deps.store, this.deps.hub, ref, scope)).task;
  }

  async *resubscribe(params: SubscribeToTaskRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    const ref = refOf(params.id);
    const scope = this.scope(context);
    const read = await readTask(this.deps.store, this.deps.hub, ref, scope);
    const state = read.task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    if (isTerminal(state)) {
      throw new UnsupportedOperationError(`task ${params.id} is ${TaskState[state]}: there is nothing more to subscribe to; GetTask reads it`);
    }
    yield { payload: { $case: "task", value: read.task } };
    if (state !== TaskState.TASK_STATE_WORKING) return;
    const { hub } = this.deps;
    const signal = callOf(context).signal;
    const queue = new EventQueue(this.deps.streamBufferBytes);
    try {
      await hub.watch(ref.sessionId, queue, undefined, signal);
      const turnState = { started: new Set<string>(), newLine: new Set<string>() };
      if (hub.running(ref.sessionId)?.turnId === read.turnId) {
        for await (const ev of queue) {
          if (!belongsToTask(ev.turnId, ref.turnId)) continue;
          if (isTurnEnd(ev) && ev.seq !== 0n) break;
          yield* updatesOf(ev, ref, turnState);
        }
      }
    } finally {
      hub.release(ref.sessionId, queue);
    }
    const final = await readTask(this.deps.store, hub, ref, scope);
    yield statusUpdate(ref, final.task.status!, final.task.metadata as Record<string, string>);
  }

  async listTasks(): Promise<never> {
    throw new UnsupportedOperationError("ListTasks is not offered: list a tenant's sessions with OrchestratorService.ListSessions, and a context's turns with ListSteps");
  }

  async createTaskPushNotificationConfig(): Promise<never> {
    throw new PushNotificationNotSupportedError("push notifications are not offered: stream the task (SendStreamingMessage, SubscribeToTask) instead");
  }

  async getTaskPushNotificationConfig(): Promise<never> {
    return this.createTaskPushNotificationConfig();
  }

  async listTaskPushNotificationConfigs(): Promise<never> {
    return this.createTaskPushNotificationConfig();
  }

  async deleteTaskPushNotificationConfig(): Promise<never> {
    return this.createTaskPushNotificationConfig();
  }

  /**
   * scope is what the caller may touch. The request's `tenant` must be the
   * token's; a token for every tenant (an operator's, or none when
   * authentication is off) may name any, and acts for it.
   */
  private scope(context: ServerCallContext): TenantScope {
    const scope = tenantScopeOf(callOf(context).ctx);
    const tenant = context.tenant ?? "";
    if (tenant === "") return scope;
    if (scope.anyTenant) return scope;
    if (tenant !== scope.tenant) {
      throw new ConnectError(`tenant "${tenant}" is not the tenant of your token ("${scope.tenant}"); send the tenant your card names, or none`, Code.PermissionDenied);
    }
    return scope;
  }

  /**
   * prepare validates a message and makes its turn: a new task in a new
   * or given context, or the next turn of a task waiting for input.
   */
  private async prepare(params: SendMessageRequest, context: ServerCallContext, rerun: RerunPolicy): Promise<{ turn: TurnRequest; ref: TaskRef; lastSeq: bigint }> {
    const call = callOf(context);
    const scope = this.scope(context);
    const message = params.message;
    const input = turnInputOf(message);
    let ref: TaskRef;
    let turnId: string;
    if (message!.taskId !== "") {
      ref = refOf(message!.taskId);
      if (message!.contextId !== "" && message!.contextId !== ref.sessionId) {
        throw new RequestMalformedError(`message.contextId "${message!.contextId}" is not the context of task ${message!.taskId} (${ref.sessionId})`);
      }
      const read = await readTask(this.deps.store, this.deps.hub, ref, scope);
      const state = read.task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
      if (state !== TaskState.TASK_STATE_INPUT_REQUIRED) {
        throw new UnsupportedOperationError(
          `task ${message!.taskId} is ${TaskState[state]} and takes no more messages; send the message without taskId (contextId "${ref.sessionId}") to start the next task`,
        );
      }
      turnId = laterTurnId(ref.turnId, message!.messageId);
    } else {
      const sessionId = message!.contextId !== "" ? message!.contextId : randomUUID();
      turnId = firstTurnId(message!.messageId);
      ref = { sessionId, turnId };
    }
    const turn: TurnRequest = {
      ...malformedWhenInvalid(() => turnRequest({ sessionId: ref.sessionId, accountId: "", flowId: this.flow.id, turnId, input }, call.ctx)),
      rerun,
    };
    // An operator (or anyone, with authentication off) naming a tenant acts for it.
    if (scope.anyTenant && context.tenant !== undefined && context.tenant !== "") turn.tenant = context.tenant;
    const lastSeq = (await this.deps.store.get(ref.sessionId))?.lastSeq ?? 0n;
    return { turn, ref, lastSeq };
  }

  /**
   * taskAfter is a task after its turn: a turn that began and failed is a
   * FAILED task (its failure is in the audit trail); a turn refused before
   * it began (overload, rate, another tenant's context) is the request's
   * error.
   */
  private taskAfter(ref: TaskRef, turn: TurnRequest, end: TurnEnd): Task {
    if ("error" in end) {
      if (!end.begun) throw end.error;
      const failed: TaskEnd = { kind: "failed", code: Code[end.error.code] ?? "unknown", message: end.error.rawMessage };
      return taskOf(ref, turn.turnId, failed);
    }
    const replies = end.result.output !== "" ? [replyArtifact(turn.turnId, end.result.output)] : [];
    return taskOf(ref, turn.turnId, { kind: "result", result: end.result, current: end.result.session }, replies);
  }

  /**
   * untilTurnEnds runs `act` (a barge-in) and resolves once the turn it
   * acts on has ended and been committed, so what the caller reads next
   * already says how it ended.
   */
  private async untilTurnEnds(sessionId: string, turnId: string, signal: AbortSignal, act: () => Promise<void>): Promise<void> {
    const { hub } = this.deps;
    const queue = new EventQueue(this.deps.streamBufferBytes);
    try {
      await hub.watch(sessionId, queue, undefined, signal);
      await act();
      if (hub.running(sessionId)?.turnId !== turnId) return;
      for await (const ev of queue) {
        if (ev.turnId === turnId && isTurnEnd(ev) && ev.seq !== 0n) return;
      }
    } finally {
      hub.release(sessionId, queue);
    }
  }
}

/**
 * callOf reads the Switchboard call a transport put in the SDK's context.
 */
export function callOf(context: ServerCallContext): A2aCall {
  const call = context.state.get(callKey) as A2aCall | undefined;
  if (call === undefined) throw new ConnectError("A2A request without its call context", Code.Internal);
  return call;
}

/**
 * entryCall is how an A2A turn enters. A task outlives the request that
 * started it: a client whose stream dropped comes back with
 * SubscribeToTask, and only CancelTask cancels, so the turn does not take
 * the request's cancellation (its deadline still bounds it).
 */
function entryCall(call: A2aCall): EntryCall {
  return { ctx: call.ctx, signal: neverAborted, deadline: call.deadline, whenDraining };
}

const neverAborted = new AbortController().signal;

function refOf(taskId: string): TaskRef {
  if (taskId === "") throw new RequestMalformedError("id: missing; send the task id SendMessage returned");
  const ref = parseTaskId(taskId);
  if (ref === undefined) throw new TaskNotFoundError(`task ${taskId} not found: not a task id this agent gave out`);
  return ref;
}
