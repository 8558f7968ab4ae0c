import type { ConnectError } from "@connectrpc/connect";
import type { OutputDelta } from "../gen/switchboard/v1/agent_pb.js";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Step } from "../gen/switchboard/v1/session_pb.js";

/**
 * TurnOutcome is how a turn that began ended:
 * - "committed": a new version is stored (also a stage failure that its
 *   `on_failure` committed);
 * - "interrupted": a barge-in cut the reply to what the user heard, stored
 *   as a new version; `afterCompletion` when the reply had completed and the
 *   committed turn was amended;
 * - "failed": nothing committed; `recorded` when the failure's step is in
 *   the audit trail;
 * - "retried": this run lost a race to another writer and the turn runs
 *   again from fresh state; nothing of the run is stored.
 */
export type TurnOutcome =
  | { kind: "committed"; result: SendTurnResponse }
  | { kind: "interrupted"; result: SendTurnResponse; heard: string; heardMs: number; afterCompletion: boolean }
  | { kind: "failed"; error: ConnectError; recorded: boolean }
  | { kind: "retried"; error: ConnectError };

/**
 * TurnEventMap lists what the engine tells about a turn while it holds its
 * session's lock, in order: `begun`, then per agent call `accepted`,
 * `output`s and maybe a `transition`, then `storing` right before the
 * commit, and last `settled`. A session's events never interleave.
 */
export interface TurnEventMap {
  /**
   * The turn holds its session; `version` is the session's (0 if new) and
   * `lastSeq` the seq of the last event its stored history has.
   */
  begun: { turnId: string; version: bigint; lastSeq: bigint };
  /** An agent call starts. */
  accepted: { stage: string; agent: string };
  /** A piece of the reply. */
  output: { delta: OutputDelta; agent: string };
  /** The session moved to another stage. */
  transition: { from: string; to: string };
  /** These steps are about to be stored, one per agent call, in order. */
  storing: { steps: readonly Step[] };
  /** The turn ended (or this attempt of it, before it runs again). */
  settled: { outcome: TurnOutcome };
}

/**
 * TurnEventReplies is what a handler answers for each event:
 * - begun: resolves when the listener is ready for the turn's events;
 * - output: a promise that paces the agent while the listener catches up;
 * - storing: the details to store with each step (the positions of its
 *   events in the session's event log), index for index, and the seq of
 *   the turn's last event, which the committed session records.
 */
export interface TurnEventReplies {
  begun: Promise<void>;
  accepted: void;
  output: Promise<void> | undefined;
  transition: void;
  storing: StepPositions;
  settled: void;
}

/**
 * StepPositions are where a turn's events stand in its session's history.
 */
export interface StepPositions {
  /** The details to store with each step, index for index. */
  details: ReadonlyArray<Record<string, string>>;
  /** The seq of the turn's last event; 0 when nobody numbers the events. */
  lastSeq: bigint;
}

/**
 * TurnEvents handles every event of a turn. A mapped type, so the compiler
 * demands a handler for each kind: a new event cannot go unhandled.
 */
export type TurnEvents = {
  readonly [K in keyof TurnEventMap]: (event: TurnEventMap[K]) => TurnEventReplies[K];
};

/**
 * quietTurnEvents listens to nothing: for turns nobody watches (specs,
 * tools that run flows in memory).
 */
export const quietTurnEvents: TurnEvents = {
  begun: () => Promise.resolve(),
  accepted: () => {},
  output: () => undefined,
  transition: () => {},
  storing: () => ({ details: [], lastSeq: 0n }),
  settled: () => {},
};

/**
 * TurnReport is what the engine reports about a finished turn, for logs
 * and metrics.
 */
export interface TurnReport {
  sessionId: string;
  turnId: string;
  /** The flow the session follows (empty when the turn failed before that was known). */
  flow: string;
  /** The session's flow version (empty when not known). */
  flowVersion: string;
  /** Whether the turn created the session. */
  created: boolean;
  agent: string;
  stage: string;
  status: "ok" | "failed" | "replayed" | "interrupted";
  latencyMs: number;
  code?: string;
  error?: string;
}
