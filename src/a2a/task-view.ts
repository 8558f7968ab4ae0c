import { type Artifact, type Message, Role, type Task, TaskState, type TaskStatus } from "@a2a-js/sdk";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { type TaskRef, taskIdOf } from "./task-ids.js";

/**
 * TaskEnd is where the turn that last served a task stands: running, its
 * committed result (with the session as it is now), or its failure.
 */
export type TaskEnd =
  | { kind: "working" }
  | { kind: "result"; result: SendTurnResponse; current: Session | undefined }
  | { kind: "failed"; code: string; message: string };

/**
 * stateOfResult is the A2A state of a task whose last turn committed:
 * CANCELED when a barge-in cut it, INPUT_REQUIRED while the session waits
 * at a human-in-the-loop stage (and nothing has answered since), FAILED
 * when the session ended in failure, else COMPLETED — the turn is done
 * and the conversation goes on in the task's context.
 */
export function stateOfResult(result: SendTurnResponse, current: Session | undefined): TaskState {
  if (result.interrupted) return TaskState.TASK_STATE_CANCELED;
  const session = current ?? result.session;
  const latest = session !== undefined && session.version === result.session?.version;
  if (latest && session.status === SessionStatus.WAITING) return TaskState.TASK_STATE_INPUT_REQUIRED;
  if (result.session?.status === SessionStatus.FAILED) return TaskState.TASK_STATE_FAILED;
  return TaskState.TASK_STATE_COMPLETED;
}

/**
 * agentMessage is a message from the flow with one text part.
 */
export function agentMessage(ref: TaskRef, messageId: string, text: string, metadata?: Record<string, string>): Message {
  return {
    messageId,
    contextId: ref.sessionId,
    taskId: taskIdOf(ref),
    role: Role.ROLE_AGENT,
    parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
    metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

/**
 * replyArtifact is a turn's reply as an artifact: one per turn, named by
 * the turn id, so a task answered in several turns keeps each reply.
 */
export function replyArtifact(turnId: string, text: string): Artifact {
  return {
    artifactId: turnId,
    name: "reply",
    description: "",
    parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
    metadata: undefined,
    extensions: [],
  };
}

/**
 * statusOf is a task's status for how its last turn ended: the wait's
 * reason for INPUT_REQUIRED, the error for FAILED.
 */
export function statusOf(ref: TaskRef, turnId: string, end: TaskEnd): TaskStatus {
  const timestamp = new Date().toISOString();
  if (end.kind === "working") return { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp };
  if (end.kind === "failed") {
    return {
      state: TaskState.TASK_STATE_FAILED,
      message: agentMessage(ref, `${turnId}:failed`, end.message, { "switchboard.code": end.code }),
      timestamp,
    };
  }
  const state = stateOfResult(end.result, end.current);
  let message: Message | undefined;
  if (state === TaskState.TASK_STATE_INPUT_REQUIRED) {
    const waiting = (end.current ?? end.result.session)?.waiting;
    message = agentMessage(ref, `${turnId}:waiting`, waiting?.reason ?? "input", { "switchboard.stage": waiting?.stage ?? "" });
  } else if (state === TaskState.TASK_STATE_CANCELED) {
    message = agentMessage(ref, `${turnId}:canceled`, "cancelled: the turn was cut short (a barge-in); the reply is what was streamed");
  }
  return { state, message, timestamp };
}

/**
 * taskOf builds the A2A view of a task: its status, one reply artifact per
 * committed turn, and Switchboard's own facts in the metadata.
 */
export function taskOf(ref: TaskRef, turnId: string, end: TaskEnd, replies: Artifact[] = []): Task {
  const metadata: Record<string, string> = { "switchboard.session_id": ref.sessionId, "switchboard.turn_id": turnId };
  if (end.kind === "result") {
    const r = end.result;
    Object.assign(metadata, {
      "switchboard.agent": r.agent,
      "switchboard.stage_completed": r.stageCompleted,
      "switchboard.next_stage": r.nextStage,
      "switchboard.session_version": String(r.session?.version ?? 0n),
    });
  }
  return {
    id: taskIdOf(ref),
    contextId: ref.sessionId,
    status: statusOf(ref, turnId, end),
    artifacts: replies,
    history: [],
    metadata,
  };
}

/**
 * isTerminal tells whether a task's state is final (no turn of the task
 * follows it).
 */
export function isTerminal(state: TaskState): boolean {
  return (
    state === TaskState.TASK_STATE_COMPLETED ||
    state === TaskState.TASK_STATE_FAILED ||
    state === TaskState.TASK_STATE_CANCELED ||
    state === TaskState.TASK_STATE_REJECTED
  );
}
