import type { TurnInput } from "../gen/switchboard/v1/turn_pb.js";
import type { Flow } from "../gen/switchboard/v1/flow_pb.js";
import type { AgentInvoker, Clock, SessionStore } from "./ports.js";
import type { TurnEvents } from "./turn-events.js";
import type { TurnRequest } from "./turn-request.js";

/**
 * FlowSource resolves flows by id and version.
 */
export interface FlowSource {
  /** get returns one version of a flow; an empty version means the latest. */
  get(id: string, version: string): Flow | undefined;
  /**
   * forNewSession is the version of a flow a new session starts on, when
   * the flow's rollout splits new sessions between versions; undefined
   * leaves it to `get(id, "")`, the latest.
   */
  forNewSession?(id: string, sessionId: string, accountId: string): Flow | undefined;
  /** defaultFlowId is the flow new sessions follow when the client names none. */
  readonly defaultFlowId: string;
}

/**
 * EngineDeps are the ports and settings every part of a turn reads.
 */
export interface EngineDeps {
  store: SessionStore;
  invoker: AgentInvoker;
  flows: FlowSource;
  clock: Clock;
  /** Idle time after which a session expires. */
  sessionTtlMs: number;
  /** The agent budget when neither the caller nor the stage sets one. */
  defaultAgentTimeoutMs: number;
  /** The most reply text one turn may stream, in UTF-16 units. */
  maxOutputChars: number;
  /** The largest session state, in bytes of JSON. */
  maxStateBytes: number;
  /** The most versions a session may have. */
  maxSessionVersions: number;
}

/**
 * TurnContext is one run of a turn: what was asked, by when, who listens,
 * and which run of the turn this is. It does not change while the run goes.
 */
export interface TurnContext {
  /** The request, with its session id filled in. */
  readonly req: TurnRequest;
  /** The turn's id: the client's, or one made up for it. */
  readonly turnId: string;
  /** Cancels the turn; its reason is an Interruption for a barge-in. */
  readonly signal: AbortSignal;
  /** The absolute time (ms since epoch) by which the caller wants an answer. */
  readonly deadline: number | undefined;
  readonly startedAt: Date;
  readonly events: TurnEvents;
  /** Which run of the turn this is, from 1; agents see it as TurnStart.attempt. */
  readonly attempt: number;
}

/**
 * Streamed is what a run of a turn has streamed so far: its input (with
 * streamed input appended) and each agent call's reply.
 */
export interface Streamed {
  input: TurnInput;
  replies: string[];
  replyChars: number;
  /** Whether any output went to the listeners. */
  sent: boolean;
}
