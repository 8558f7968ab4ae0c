import { SpanKind } from "@opentelemetry/api";
import { ConnectError } from "@connectrpc/connect";
import { codeName } from "../core/errors.js";
import type { Commit, SessionStore } from "../core/ports.js";
import type { Metrics } from "./metrics.js";
import type { Redactor } from "./redaction.js";
import { childSpan, failSpan } from "./tracing.js";

/**
 * instrumentStore wraps a SessionStore so every call is timed in the
 * metrics and traced as a child span of the turn it serves, and, when the
 * redactor says so, what the audit trail stores is redacted first.
 */
export function instrumentStore(store: SessionStore, metrics: Metrics | undefined, redactor: Redactor | undefined): SessionStore {
  const audit = redactor?.auditTrail === true ? redactor : undefined;
  const timed = async <T>(operation: string, sessionId: string, run: () => Promise<T>): Promise<T> => {
    const span = childSpan(`switchboard.store.${operation}`, SpanKind.CLIENT, {
      "db.operation.name": operation,
      "switchboard.session_id": sessionId,
    });
    const started = performance.now();
    let outcome = "ok";
    try {
      return await run();
    } catch (e) {
      outcome = codeName(ConnectError.from(e).code);
      failSpan(span, e);
      throw e;
    } finally {
      metrics?.storeOperation(operation, outcome, (performance.now() - started) / 1000);
      span.end();
    }
  };
  const redactCommit = (c: Commit): Commit =>
    audit === undefined
      ? c
      : {
          ...c,
          session: audit.session(c.session),
          steps: c.steps.map((s) => audit.step(s)),
          ...(c.turn !== undefined ? { turn: { turnId: c.turn.turnId, result: audit.turnResult(c.turn.result) } } : {}),
        };
  return {
    get: (id) => timed("get", id, () => store.get(id)),
    load: (id, turnId) => timed("load", id, () => store.load(id, turnId)),
    commit: (c) => timed("commit", c.session.id, () => store.commit(redactCommit(c))),
    turnResult: (id, turnId) => timed("turn_result", id, () => store.turnResult(id, turnId)),
    recordFailure: (step) => timed("record_failure", step.sessionId, () => store.recordFailure(audit ? audit.step(step) : step)),
    failureEnd: (id, version) => timed("failure_end", id, () => store.failureEnd(id, version)),
    listSteps: (id, page) => timed("list_steps", id, () => store.listSteps(id, page)),
    listSnapshots: (id, page) => timed("list_snapshots", id, () => store.listSnapshots(id, page)),
    snapshot: (id, version) => timed("snapshot", id, () => store.snapshot(id, version)),
    list: (filter, page) => timed("list", "", () => store.list(filter, page)),
    delete: (id) => timed("delete", id, () => store.delete(id)),
    close: () => store.close(),
  };
}
