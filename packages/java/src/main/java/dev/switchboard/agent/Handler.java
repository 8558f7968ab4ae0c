package dev.switchboard.agent;

import switchboard.v1.Turn.AgentResult;

/**
 * Handler serves one turn. It streams its reply with {@link Output#delta}
 * and returns the final result, whose text may be left empty: it becomes the
 * streamed text. When the orchestrator cancels the turn or its time runs
 * out, the handler's thread is interrupted and {@link Output#delta} throws
 * {@link TurnOverException}; whatever the handler returns then is discarded.
 */
@FunctionalInterface
public interface Handler {
  /** handle serves the turn and returns its result. */
  AgentResult handle(Turn turn, Output out) throws Exception;
}
