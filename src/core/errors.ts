import { Code, ConnectError } from "@connectrpc/connect";

/**
 * invalidArgument is the error for a malformed request field. The message
 * always starts with the field's name so the caller knows what to fix.
 */
export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

/**
 * notFound is the error for an unknown (or expired, or deleted) resource.
 */
export function notFound(what: string): ConnectError {
  return new ConnectError(`${what} not found`, Code.NotFound);
}

/**
 * failedPrecondition is the error for a request the session's state refuses,
 * e.g. an intent not allowed at the current stage.
 */
export function failedPrecondition(message: string): ConnectError {
  return new ConnectError(message, Code.FailedPrecondition);
}

/**
 * aborted is the error for a lost compare-and-set: another writer committed
 * the session first. The caller may retry from fresh state.
 */
export function aborted(message: string): ConnectError {
  return new ConnectError(message, Code.Aborted);
}

/**
 * unavailable is the error for a dependency that cannot be reached.
 */
export function unavailable(message: string, cause?: unknown): ConnectError {
  return new ConnectError(message, Code.Unavailable, undefined, undefined, cause);
}

/**
 * codeName returns the lower_snake_case gRPC name of a code, as it appears
 * in step records and stream events ("failed_precondition").
 */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * ErrorMark names one nature an internal error can have; layers that must
 * treat an error differently read its marks, never its message.
 *
 * - "retryable": the same agent call may succeed when tried again (a refused
 *   connection, an agent that is briefly unavailable).
 * - "store": the error came from the session store (the database), so the
 *   engine does not try to write a failure record to a store that just failed.
 * - "stage-failure": a stage's own work failed (its agent answered
 *   ACTION_FAIL, its call failed for good, or its parallel join was not met),
 *   as opposed to a refused turn (a check, an intent). Only such failures
 *   trigger a stage's `on_failure`.
 * - "unroutable": an UNAVAILABLE error raised before any instance of the
 *   agent was called (none is live, or every one's circuit breaker is open):
 *   nothing reached an agent, so the turn may go to a fallback agent.
 * - "late": a failure that came of this process being late (its event loop
 *   stalled while the call waited), not of the instance that served it.
 */
export type ErrorMark = "retryable" | "store" | "stage-failure" | "unroutable" | "late";

/**
 * AgentCallFacts tell what a failed agent call did before it failed, so the
 * failed step in the audit trail can say it: the agent and instance it
 * reached, the attempts it made, how long it took, the breaker's decision
 * and the output that had already been streamed to the caller.
 */
export interface AgentCallFacts {
  agent: string;
  /** The instance (endpoint) of the last attempt; empty when none was called. */
  instance: string;
  attempts: number;
  latencyMs: number;
  /** The breaker decision of the last attempt: "closed", "half_open" or "open". */
  breaker: string;
  /** Output text already streamed to the caller before the failure. */
  output: string;
}

/**
 * ErrorNature is what the process knows about one of its errors beyond the
 * code and message. It stays inside the process: it is not sent to clients.
 */
interface ErrorNature {
  marks: Set<ErrorMark>;
  facts?: AgentCallFacts;
}

// Symbol.for, not Symbol(): every copy of this module loaded in one process
// must read the marks another copy set.
const natureKey: unique symbol = Symbol.for("switchboard.error-nature");

type WithNature = ConnectError & { [natureKey]?: ErrorNature };

/** natureOf returns an error's nature, creating an empty one when asked to. */
function natureOf(err: ConnectError, create: true): ErrorNature;
function natureOf(err: unknown, create: false): ErrorNature | undefined;
function natureOf(err: unknown, create: boolean): ErrorNature | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const e = err as WithNature;
  if (create) e[natureKey] ??= { marks: new Set() };
  return e[natureKey];
}

/**
 * mark adds marks to an error and returns the error, so a throw site reads
 * `throw mark(new ConnectError(...), "retryable")`.
 */
export function mark(err: ConnectError, ...marks: ErrorMark[]): ConnectError {
  const nature = natureOf(err, true);
  for (const m of marks) nature.marks.add(m);
  return err;
}

/**
 * hasMark tells whether an error (anything thrown) carries a mark.
 */
export function hasMark(err: unknown, m: ErrorMark): boolean {
  return natureOf(err, false)?.marks.has(m) === true;
}

/**
 * withAgentCallFacts attaches an agent call's facts to its error and returns
 * the error. The facts stay inside the process: they are not sent to clients.
 */
export function withAgentCallFacts(err: ConnectError, facts: AgentCallFacts): ConnectError {
  natureOf(err, true).facts = facts;
  return err;
}

/**
 * agentCallFactsOf returns the facts attached to an error, if any.
 */
export function agentCallFactsOf(err: unknown): AgentCallFacts | undefined {
  return natureOf(err, false)?.facts;
}
