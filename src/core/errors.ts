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
