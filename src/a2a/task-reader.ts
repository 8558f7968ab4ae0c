import type { Artifact, Task } from "@a2a-js/sdk";
import { TaskNotFoundError } from "@a2a-js/sdk/errors";
import { type Session, type Step, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { SessionStore } from "../core/ports.js";
import { mayAccess, type TenantScope } from "../server/identity.js";
import type { SessionHub } from "../server/session-hub.js";
import { belongsToTask, type TaskRef, taskIdOf } from "./task-ids.js";
import { replyArtifact, type TaskEnd, taskOf } from "./task-view.js";

/**
 * TaskRead is a task as the store and the hub know it.
 */
export interface TaskRead {
  task: Task;
  /** The turn that last served the task (running or ended). */
  turnId: string;
  /** The session at its last committed version; undefined while its first turn runs. */
  session: Session | undefined;
}

/**
 * readTask is GetTask: it rebuilds a task from the session's audit trail
 * (GetSession and ListSteps underneath): its turns are the steps whose
 * turn id is the task's first turn or extends it, their replies its
 * artifacts, and how the last of them ended its status. A turn that
 * holds the session on this replica makes the task WORKING. Another
 * tenant's task reads as missing (TaskNotFound), as A2A asks.
 */
export async function readTask(store: SessionStore, hub: SessionHub, ref: TaskRef, scope: TenantScope): Promise<TaskRead> {
  const notFound = () => new TaskNotFoundError(`task ${taskIdOf(ref)} not found: no such turn in context ${ref.sessionId}`);
  const session = await store.get(ref.sessionId);
  if (session !== undefined && !mayAccess(scope, session.tenant)) throw notFound();
  const running = hub.running(ref.sessionId);
  const runningHere = running !== undefined && belongsToTask(running.turnId, ref.turnId) ? running.turnId : undefined;
  // A session whose first turn still runs is not stored yet, and its
  // tenant is not known: only a caller who may see every tenant learns of it.
  if (session === undefined && (runningHere === undefined || !scope.anyTenant)) throw notFound();
  const turns = session === undefined ? [] : await taskTurns(store, ref);
  const replies: Artifact[] = [];
  let last: TaskEnd | undefined;
  let lastTurn = "";
  for (const t of turns) {
    const result = await store.turnResult(ref.sessionId, t.turnId);
    lastTurn = t.turnId;
    if (result !== undefined) {
      if (result.output !== "") replies.push(replyArtifact(t.turnId, result.output));
      last = { kind: "result", result, current: session };
    } else {
      last = { kind: "failed", code: t.failure?.code ?? "unknown", message: t.failure?.message ?? "the turn failed" };
    }
  }
  if (runningHere !== undefined) return { task: taskOf(ref, runningHere, { kind: "working" }, replies), turnId: runningHere, session };
  if (last === undefined) throw notFound();
  return { task: taskOf(ref, lastTurn, last, replies), turnId: lastTurn, session };
}

interface TaskTurn {
  turnId: string;
  /** When the turn's last step ended: orders the task's turns. */
  endMs: number;
  /** The error of the turn's last failed step, if any. */
  failure: { code: string; message: string } | undefined;
}

async function taskTurns(store: SessionStore, ref: TaskRef): Promise<TaskTurn[]> {
  const turns = new Map<string, TaskTurn>();
  let pageToken = "";
  do {
    const page = await store.listSteps(ref.sessionId, { pageSize: 500, pageToken });
    for (const step of page.items) {
      if (!belongsToTask(step.turnId, ref.turnId)) continue;
      const turn = turns.get(step.turnId) ?? { turnId: step.turnId, endMs: 0, failure: undefined };
      turn.endMs = Math.max(turn.endMs, endMsOf(step));
      if (step.status === StepStatus.FAILED) turn.failure = { code: step.error?.code ?? "unknown", message: step.error?.message ?? "" };
      turns.set(step.turnId, turn);
    }
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return [...turns.values()].sort((a, b) => a.endMs - b.endMs);
}

function endMsOf(step: Step): number {
  const t = step.endTime ?? step.startTime;
  return t === undefined ? 0 : Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}
