import type { OutputDelta } from "../gen/switchboard/v1/agent_pb.js";
import type { Step } from "../gen/switchboard/v1/session_pb.js";
import { codeName } from "../core/errors.js";
import { event, type EventKind } from "../core/session-events.js";
import type { StepPositions, TurnOutcome } from "../core/turn-events.js";
import type { Logger } from "../log.js";
import type { InputChannel } from "./input-channel.js";
import { type Appended, EventLog, type LoggedTurn } from "./event-log.js";
import { type SubscriberLimits, Subscribers } from "./session-subscribers.js";

/**
 * LiveTurn is the turn that holds a session on this replica: the target of
 * a barge-in and of streamed input.
 */
export interface LiveTurn {
  readonly sessionId: string;
  readonly turnId: string;
  /** The agent of the current call; empty before the first. */
  readonly agent: string;
  /** Streamed input, when the turn takes it. */
  readonly input: InputChannel | undefined;
  /** Cancels the turn; a barge-in aborts it with an Interruption. */
  readonly controller: AbortController;
}

interface RunningTurn extends LiveTurn {
  agent: string;
  logged: LoggedTurn;
}

/**
 * LiveSession is one session as this replica holds it: its event log, its
 * subscribers and the turn running on it. Every event is numbered by the
 * log, then delivered to the subscribers.
 */
export class LiveSession {
  readonly log: EventLog;
  readonly subscribers: Subscribers;
  running: RunningTurn | undefined;
  /** Turns and opens in progress that keep the session from eviction. */
  pins = 0;
  /**
   * The tenant of the caller whose turn runs on this session: before the
   * session's first turn is stored, the only record of whose it is.
   */
  tenant: string | undefined;

  constructor(
    readonly id: string,
    limits: HubLimits,
    onBytes: (delta: number) => void,
    logger: Logger,
  ) {
    this.log = new EventLog(id, limits.windowBytes, onBytes);
    this.subscribers = new Subscribers(id, limits, logger);
  }

  get idle(): boolean {
    return this.pins === 0 && this.running === undefined && this.subscribers.empty;
  }

  /** begin makes `turnId` the running turn. */
  begin(turnId: string, controller: AbortController, input: InputChannel | undefined): LiveTurn {
    this.running = { sessionId: this.id, turnId, agent: "", input, controller, logged: this.log.beginTurn(turnId) };
    return this.running;
  }

  accepted(stage: string, agent: string): void {
    const run = this.running;
    if (run === undefined) return;
    run.agent = agent;
    this.deliver(this.log.accepted(run.logged, stage, agent));
  }

  output(delta: OutputDelta, agent: string): Promise<void> | undefined {
    const run = this.running;
    return run === undefined ? undefined : this.deliver(this.log.output(run.logged, delta, agent));
  }

  transition(from: string, to: string): void {
    const run = this.running;
    if (run !== undefined) this.deliver(this.log.transition(run.logged, from, to));
  }

  /** stepPositions are where the running turn's steps' events stand in the log. */
  stepPositions(steps: readonly Step[]): StepPositions {
    return { details: this.log.stepDetails(this.running?.logged, steps), lastSeq: this.log.lastSeq + 1n };
  }

  /**
   * settle publishes how the running turn ended, and lets go of it. A turn
   * that is history ends in the log; a run that is not (it lost a race and
   * runs again, or it failed and nothing of it was stored on a stored
   * session) leaves the log, and its end reaches the subscribers as a
   * notice without a seq.
   */
  settle(outcome: TurnOutcome): void {
    const run = this.running;
    if (run === undefined) return;
    this.running = undefined;
    if (outcome.kind === "retried" || (outcome.kind === "failed" && !outcome.recorded && this.log.knownVersion > 0n)) {
      this.log.withdraw(run.logged);
      this.deliver({ event: event({ sessionId: this.id, turnId: run.turnId }, 0n, outcomeEvent(outcome)), size: 0 });
      return;
    }
    if (outcome.kind !== "failed") this.log.knownVersion = outcome.result.session?.version ?? this.log.knownVersion;
    this.deliver(this.log.end(run.logged, outcomeEvent(outcome)));
  }

  /** publishAlone publishes a one-event turn (a late barge-in's amendment). */
  publishAlone(turnId: string, outcome: TurnOutcome): void {
    if (outcome.kind === "committed" || outcome.kind === "interrupted") {
      this.log.knownVersion = outcome.result.session?.version ?? this.log.knownVersion;
    }
    const logged = this.log.beginTurn(turnId, this.running?.logged);
    this.deliver(this.log.end(logged, outcomeEvent(outcome)));
  }

  /** dropWindow lets go of the held events but the running turn's. */
  dropWindow(): void {
    this.log.dropWindow(this.running?.logged);
  }

  private deliver(appended: Appended | undefined): Promise<void> | undefined {
    return appended === undefined ? undefined : this.subscribers.deliver(appended);
  }
}

/**
 * outcomeEvent is the event that ends a turn in the session's history.
 */
function outcomeEvent(outcome: TurnOutcome): EventKind {
  switch (outcome.kind) {
    case "committed":
      return { case: "completed", value: { result: outcome.result } };
    case "interrupted":
      return {
        case: "interrupted",
        value: { heard: outcome.heard, heardMs: outcome.heardMs, result: outcome.result, afterCompletion: outcome.afterCompletion },
      };
    case "failed":
    case "retried":
      return { case: "failed", value: { code: codeName(outcome.error.code), message: outcome.error.rawMessage } };
  }
}

/**
 * HubLimits bound what the hub holds in memory.
 */
export interface HubLimits extends SubscriberLimits {
  /** Bytes of recent events kept per session, replayed exactly on resume. */
  windowBytes: number;
  /** Bytes of recent events kept for all sessions together; idle sessions are evicted past it. */
  totalWindowBytes: number;
  /** Sessions without streams or turns kept in memory. */
  maxIdleSessions: number;
}

/**
 * defaultHubLimits are the limits the orchestrator starts with.
 */
export const defaultHubLimits: HubLimits = {
  windowBytes: 256 * 1024,
  totalWindowBytes: 64 << 20,
  streamBufferBytes: 1 << 20,
  slowReaderMs: 10_000,
  maxIdleSessions: 4096,
};

/**
 * LiveSessions is the registry of the sessions this replica holds, least
 * recently used first; idle ones are evicted past `maxIdleSessions` or
 * when all logs together hold more than `totalWindowBytes`.
 */
export class LiveSessions {
  private readonly sessions = new Map<string, LiveSession>();
  private windowBytes = 0;

  constructor(
    private readonly limits: HubLimits,
    private readonly logger: Logger,
  ) {}

  /** get returns a session's live state, creating it, and marks it used. */
  get(sessionId: string): LiveSession {
    let live = this.sessions.get(sessionId);
    if (live === undefined) {
      live = new LiveSession(sessionId, this.limits, (delta) => this.windowChanged(delta), this.logger);
    } else {
      // Map order is recency order: the least recently used come first.
      this.sessions.delete(sessionId);
    }
    this.sessions.set(sessionId, live);
    return live;
  }

  /** peek returns a session's live state, if this replica holds it. */
  peek(sessionId: string): LiveSession | undefined {
    return this.sessions.get(sessionId);
  }

  values(): IterableIterator<LiveSession> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** evictIdle lets go of the least recently used idle sessions past the limits. */
  evictIdle(): void {
    const { maxIdleSessions, totalWindowBytes } = this.limits;
    let idle = 0;
    for (const live of this.sessions.values()) if (live.idle) idle++;
    for (const [id, live] of this.sessions) {
      if (idle <= maxIdleSessions && this.windowBytes <= totalWindowBytes) break;
      if (!live.idle) continue;
      live.dropWindow();
      this.sessions.delete(id);
      idle--;
    }
  }

  private windowChanged(delta: number): void {
    this.windowBytes += delta;
    if (delta > 0 && this.windowBytes > this.limits.totalWindowBytes) this.evictIdle();
  }
}
