import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Retryable marks an error that may succeed when the same agent call is
 * tried again (a refused connection, an agent that is briefly unavailable).
 * Retry layers read this mark, never the message.
 */
const retryableKey = Symbol.for("switchboard.retryable");

/**
 * markRetryable flags a ConnectError as safe to retry and returns it.
 */
export function markRetryable(err: ConnectError): ConnectError {
  (err as unknown as Record<symbol, boolean>)[retryableKey] = true;
  return err;
}

/**
 * isRetryable tells whether an error was marked retryable.
 */
export function isRetryable(err: unknown): boolean {
  return (
    err instanceof ConnectError &&
    (err as unknown as Record<symbol, boolean>)[retryableKey] === true
  );
}

const storeKey = Symbol.for("switchboard.store-error");

/**
 * markStoreError flags an error as coming from the session store (the
 * database), so the engine does not try to write a failure record to a
 * store that just failed.
 */
export function markStoreError(err: ConnectError): ConnectError {
  (err as unknown as Record<symbol, boolean>)[storeKey] = true;
  return err;
}

/**
 * isStoreError tells whether an error came from the session store.
 */
export function isStoreError(err: unknown): boolean {
  return err instanceof ConnectError && (err as unknown as Record<symbol, boolean>)[storeKey] === true;
}

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

const stageFailureKey = Symbol.for("switchboard.stage-failure");

/**
 * markStageFailure flags an error as the failure of a stage's own work (its
 * agent answered ACTION_FAIL, its call failed for good, or its parallel
 * join was not met), as opposed to a refused turn (a check, an intent).
 * Only such failures trigger a stage's `on_failure`.
 */
export function markStageFailure(err: ConnectError): ConnectError {
  (err as unknown as Record<symbol, boolean>)[stageFailureKey] = true;
  return err;
}

/**
 * isStageFailure tells whether an error was marked as a stage failure.
 */
export function isStageFailure(err: unknown): boolean {
  return (
    err instanceof ConnectError &&
    (err as unknown as Record<symbol, boolean>)[stageFailureKey] === true
  );
}

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

const factsKey = Symbol.for("switchboard.agentCallFacts");

/**
 * withAgentCallFacts attaches an agent call's facts to its error and returns
 * the error. The facts stay inside the process: they are not sent to clients.
 */
export function withAgentCallFacts(err: ConnectError, facts: AgentCallFacts): ConnectError {
  (err as unknown as Record<symbol, AgentCallFacts>)[factsKey] = facts;
  return err;
}

/**
 * agentCallFactsOf returns the facts attached to an error, if any.
 */
export function agentCallFactsOf(err: unknown): AgentCallFacts | undefined {
  return err instanceof ConnectError ? (err as unknown as Record<symbol, AgentCallFacts | undefined>)[factsKey] : undefined;
}

const unroutableKey = Symbol.for("switchboard.unroutable");

/**
 * markUnroutable flags an UNAVAILABLE error raised before any instance of
 * the agent was called (none is live, or every one's circuit breaker is
 * open): nothing reached an agent, so the turn may go to a fallback agent.
 */
export function markUnroutable(err: ConnectError): ConnectError {
  (err as unknown as Record<symbol, boolean>)[unroutableKey] = true;
  return err;
}

/**
 * isUnroutable tells whether an error was marked unroutable.
 */
export function isUnroutable(err: unknown): boolean {
  return err instanceof ConnectError && (err as unknown as Record<symbol, boolean>)[unroutableKey] === true;
}
