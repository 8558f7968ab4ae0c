import { type StreamResponse, TaskState, type TaskStatus } from "@a2a-js/sdk";
import type { SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type TaskRef, taskIdOf } from "./task-ids.js";
import { replyArtifact } from "./task-view.js";

/**
 * TurnStreamState is what a stream of a task's events has sent so far.
 */
export interface TurnStreamState {
  /** The turns whose reply began streaming (their next chunks append). */
  readonly started: Set<string>;
  /** The turns whose next agent's reply starts on a new line, as the turn's output joins them. */
  readonly newLine: Set<string>;
}

/**
 * updatesOf maps one session event of a task's turn onto A2A stream
 * events: a turn accepted by an agent is a WORKING status update naming
 * the stage and agent; each piece of the reply is an artifact update of
 * the turn's reply artifact, `append` after the first, the replies of a
 * turn's successive agents a line apart (as the turn's output is). How the turn ended
 * is sent by the caller, from the turn's result.
 */
export function updatesOf(ev: SessionEvent, ref: TaskRef, state: TurnStreamState): StreamResponse[] {
  const taskId = taskIdOf(ref);
  const kind = ev.kind;
  if (kind.case === "accepted") {
    if (state.started.has(ev.turnId)) state.newLine.add(ev.turnId);
    return [statusUpdate(ref, { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() }, {
      "switchboard.stage": kind.value.stage,
      "switchboard.agent": kind.value.agent,
    })];
  }
  if (kind.case === "output" && kind.value.text !== "") {
    const append = state.started.has(ev.turnId);
    state.started.add(ev.turnId);
    const text = state.newLine.delete(ev.turnId) ? `\n${kind.value.text}` : kind.value.text;
    return [
      {
        payload: {
          $case: "artifactUpdate",
          value: { taskId, contextId: ref.sessionId, artifact: replyArtifact(ev.turnId, text), append, lastChunk: false, metadata: undefined },
        },
      },
    ];
  }
  return [];
}

/**
 * statusUpdate is a status update event of a task.
 */
export function statusUpdate(ref: TaskRef, status: TaskStatus, metadata?: Record<string, string>): StreamResponse {
  return { payload: { $case: "statusUpdate", value: { taskId: taskIdOf(ref), contextId: ref.sessionId, status, metadata } } };
}

/**
 * isTurnEnd tells whether a session event ends its turn.
 */
export function isTurnEnd(ev: SessionEvent): boolean {
  const c = ev.kind.case;
  return c === "completed" || c === "failed" || c === "interrupted";
}
