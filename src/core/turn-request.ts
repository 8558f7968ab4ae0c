import type { InputDelta } from "../gen/switchboard/v1/agent_pb.js";
import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";

/**
 * RerunPolicy says whether a turn that lost a compare-and-set to another
 * replica may run again from fresh state:
 * - "anytime": the caller sees only the turn's result (a unary SendTurn),
 *   so output already published to watchers does not bind the turn; the
 *   watchers see the attempt end and the turn run again.
 * - "before-output": the caller sees output as it streams (Converse), so
 *   once a piece reached it the turn cannot be run again unseen.
 */
export type RerunPolicy = "anytime" | "before-output";

/**
 * TurnRequest is one turn as the engine receives it, after the server has
 * validated its fields.
 */
export interface TurnRequest {
  sessionId: string;
  accountId: string;
  flowId: string;
  /** The client's turn id; empty when the client sent none. */
  turnId: string;
  input: TurnInput;
  /** The tenant a new session belongs to; unless `anyTenant`, also the only tenant whose sessions the turn may touch. */
  tenant: string;
  /** True when the caller may touch every tenant's sessions (no authentication, or an operator). */
  anyTenant?: boolean;
  /** Metadata passed through to the agent (trace context, channel). */
  metadata: Record<string, string>;
  /** More input for the turn's first agent, appended to `input.text` as it streams in. */
  inputStream?: AsyncIterable<InputDelta>;
  /** Whether the turn may run again after losing a race (default "before-output"). */
  rerun?: RerunPolicy;
}
