import { randomUUID } from "node:crypto";

/**
 * TaskRef is what an A2A task id names: the session (the task's
 * contextId) and the turn that opened the task.
 */
export interface TaskRef {
  sessionId: string;
  /** The turn that opened the task; later turns of the task (answers to INPUT_REQUIRED) extend it. */
  turnId: string;
}

// A turn id of our own making: no "." (which joins a task's later turns to
// its first) and short enough that a task's later turn ids stay within the
// 128 characters of an id.
const ownTurnId = /^[A-Za-z0-9_-]{1,60}$/;
const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * taskIdOf returns the A2A task id of a task: session and first turn,
 * joined by "~", which no session id holds. A task id names its session,
 * so GetTask and CancelTask (which carry only the task id) find it on any
 * replica, from the store, without a table of tasks.
 */
export function taskIdOf(ref: TaskRef): string {
  return `${ref.sessionId}~${ref.turnId}`;
}

/**
 * parseTaskId reads a task id; undefined when it is not one of ours (the
 * caller answers TaskNotFound).
 */
export function parseTaskId(taskId: string): TaskRef | undefined {
  const at = taskId.indexOf("~");
  if (at < 0) return undefined;
  const sessionId = taskId.slice(0, at);
  const turnId = taskId.slice(at + 1);
  if (!idPattern.test(sessionId) || !idPattern.test(turnId)) return undefined;
  return { sessionId, turnId };
}

/**
 * firstTurnId is the turn id of a task's first turn: the client's message
 * id when it is usable as one (so a message sent twice replays the stored
 * turn instead of running it again), else a new id.
 */
export function firstTurnId(messageId: string): string {
  return ownTurnId.test(messageId) ? messageId : randomUUID();
}

/**
 * laterTurnId is the turn id of a later turn of a task (an answer to its
 * INPUT_REQUIRED): the first turn's id, ".", and the message id (or a new
 * id), so a retried answer replays too.
 */
export function laterTurnId(first: string, messageId: string): string {
  return `${first}.${ownTurnId.test(messageId) ? messageId : randomUUID()}`;
}

/**
 * belongsToTask tells whether a turn id is one of a task's turns.
 */
export function belongsToTask(turnId: string, first: string): boolean {
  return turnId === first || turnId.startsWith(`${first}.`);
}
