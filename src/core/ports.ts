import type { InputDelta, OutputDelta, TurnStart } from "../gen/switchboard/v1/agent_pb.js";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type {
  Session,
  SessionStatus,
  Snapshot,
  Step,
} from "../gen/switchboard/v1/session_pb.js";
import type { RetryPolicy } from "../gen/switchboard/v1/flow_pb.js";
import type { AgentResult } from "../gen/switchboard/v1/turn_pb.js";

/**
 * Clock is the engine's only source of time, so tests can drive it.
 */
export interface Clock {
  now(): Date;
  /** sleep resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/**
 * systemClock is the wall clock.
 */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Page is one page of a listing.
 */
export interface Page<T> {
  items: T[];
  /** An opaque token for the next page; empty on the last page. */
  nextPageToken: string;
}

/**
 * PageRequest asks for one page of a listing.
 */
export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/**
 * Commit is one atomic change to a session: the session as it is after the
 * change, the audit-trail steps that explain it, and, for a turn with a
 * client-supplied id, the result to replay when the turn is sent again.
 */
export interface Commit {
  /** The session after the change; `version` is `expectedVersion + 1`. */
  session: Session;
  /** The version the change was computed from; 0 creates the session. */
  expectedVersion: bigint;
  /** Why the version exists: "turn", "rollback", "fork", "interruption", "migration". */
  reason: string;
  /** The audit-trail steps of this version, in order. */
  steps: Step[];
  /** The client's turn id and the result to replay for it. */
  turn?: { turnId: string; result: SendTurnResponse };
}

/**
 * Loaded is what SessionStore.load found.
 */
export interface Loaded {
  /** The session, when it exists (also with a replay: the caller checks who may see it). */
  session?: Session;
  /** The stored result of the turn, when it was applied already. */
  replay?: SendTurnResponse;
}

/**
 * SessionFilter narrows a session listing.
 */
export interface SessionFilter {
  status?: SessionStatus;
  tenant?: string;
  flowId?: string;
  flowVersion?: string;
  /** Sessions this agent served in any turn (Session.tally.agents). */
  agent?: string;
}

/**
 * SessionStore keeps sessions with their versioned snapshots and audit
 * trail. Every commit is a compare-and-set on the session's version: a
 * commit computed from a stale version fails with ABORTED and changes
 * nothing. Implementations: memory-store.ts (embedded default) and
 * mongo-store.ts.
 */
export interface SessionStore {
  /** get returns the session at its last committed version, if it exists and has not expired. */
  get(sessionId: string): Promise<Session | undefined>;
  /** commit writes a new version, or throws ABORTED when `expectedVersion` is no longer current. */
  commit(commit: Commit): Promise<void>;
  /**
   * load reads what a turn starts from, in one read of the session: the
   * stored result when `turnId` (non-empty) was applied already, else the
   * session at its last committed version (undefined when it does not
   * exist or expired). The same as turnResult then get, without reading
   * the session twice.
   */
  load(sessionId: string, turnId: string): Promise<Loaded>;
  /** turnResult returns the stored result of an already applied turn id. */
  turnResult(sessionId: string, turnId: string): Promise<SendTurnResponse | undefined>;
  /**
   * recordFailure appends the step of a failed turn without changing the
   * session, at the version the turn started from (`step.version`; 0 for
   * the session's latest).
   */
  recordFailure(step: Step): Promise<void>;
  /**
   * failureEnd returns the highest seq the failed turns recorded at
   * `version` hold (0 for none): with the version's own last seq, where
   * the session's history stands.
   */
  failureEnd(sessionId: string, version: bigint): Promise<bigint>;
  /** listSteps pages a session's audit trail, oldest first. */
  listSteps(sessionId: string, page: PageRequest): Promise<Page<Step>>;
  /** listSnapshots pages a session's committed versions, oldest first. */
  listSnapshots(sessionId: string, page: PageRequest): Promise<Page<Snapshot>>;
  /** snapshot returns one committed version. */
  snapshot(sessionId: string, version: bigint): Promise<Snapshot | undefined>;
  /** list pages sessions, most recently updated first. */
  list(filter: SessionFilter, page: PageRequest): Promise<Page<Session>>;
  /** delete removes a session with its snapshots and steps; false if it did not exist. */
  delete(sessionId: string): Promise<boolean>;
  /** close releases the store's resources. */
  close(): Promise<void>;
}

/**
 * AgentCall is one turn sent to one agent.
 */
export interface AgentCall {
  /** The agent's name; the invoker picks an instance. */
  agent: string;
  /** The turn and its context, as the agent receives it. */
  start: TurnStart;
  /** Aborted when the caller cancels or barges in. */
  signal: AbortSignal;
  /** The time budget for the call, in milliseconds. */
  timeoutMs: number;
  /**
   * Called with each piece of output as the agent produces it. When it
   * returns a promise, the invoker reads no more output until it settles
   * (a slow client paces the agent); when it throws, the call fails.
   */
  onDelta: (delta: OutputDelta) => void | Promise<void>;
  /** More input, sent to the agent after `start` as it arrives (streamed user input). */
  input?: AsyncIterable<InputDelta>;
  /** The stage's retry policy; the invoker's defaults when absent. */
  retry?: RetryPolicy;
}

/**
 * AgentOutcome is the result of a successful agent call with how it went.
 */
export interface AgentOutcome {
  result: AgentResult;
  /** The instance that served the call, e.g. its endpoint. */
  instance: string;
  attempts: number;
  latencyMs: number;
  /** The breaker state of the instance when it was picked. */
  breaker: string;
}

/**
 * AgentInvoker calls agents. It throws a ConnectError when the call fails;
 * the error carries what the call did (see `agentCallFactsOf` in
 * errors.ts), and is marked "unroutable" (`hasMark`) when no instance of
 * the agent could be called at all.
 */
export interface AgentInvoker {
  invoke(call: AgentCall): Promise<AgentOutcome>;
  /** has tells whether any instance of the agent is known. */
  has(agent: string): boolean;
}
