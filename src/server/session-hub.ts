import { Code, ConnectError } from "@connectrpc/connect";
import type { SendTurnResponse, SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Engine } from "../core/engine.js";
import { notFound } from "../core/errors.js";
import { type Heard, Interruption } from "../core/interruption.js";
import type { SessionStore } from "../core/ports.js";
import { event } from "../core/session-events.js";
import { storedEvents } from "../core/stored-history.js";
import { quietTurnEvents, type TurnEvents } from "../core/turn-events.js";
import type { TurnRequest } from "../core/turn-request.js";
import type { Logger } from "../log.js";
import type { EventQueue } from "./event-queue.js";
import type { InputChannel } from "./input-channel.js";
import { type HubLimits, type LiveSession, LiveSessions, type LiveTurn } from "./live-sessions.js";
import { type Owner, superseded } from "./session-subscribers.js";

/**
 * HubOptions are what the hub needs.
 */
export interface HubOptions {
  engine: Engine;
  store: SessionStore;
  newId: () => string;
  limits: HubLimits;
  log: Logger;
}

/**
 * TurnEnd is how a turn run through the hub ended. `begun` is false when
 * the turn failed before it held its session (its error is then not part
 * of the session's history).
 */
export type TurnEnd = { result: SendTurnResponse } | { error: ConnectError; begun: boolean };

/**
 * BargeInOutcome is what a barge-in did.
 */
export type BargeInOutcome = "cancelled" | "amended" | "unchanged" | { rejected: ConnectError };

/**
 * TurnStreams are what a streaming caller attaches to its turn.
 */
export interface TurnStreams {
  /** The channel its input messages go to, while the turn holds the session. */
  input?: InputChannel;
  /** Learns the turn once it holds its session. */
  onBegin?: (turn: LiveTurn) => void;
}

/**
 * SessionHub connects the engine's turns with the streams of their
 * sessions. Every turn runs through `runTurn`, which runs it in the engine
 * and publishes what the engine tells, numbered by the session's event log,
 * to the session's subscribers; streams attach to a session to receive its
 * events, replayed from where they left off.
 *
 * Events older than a session's window are rebuilt from the audit trail
 * (see session-events.ts), so a resume never depends on this process's
 * memory for what is committed.
 */
export class SessionHub {
  private readonly live: LiveSessions;
  private closedWith: ConnectError | undefined;

  constructor(private readonly opts: HubOptions) {
    this.live = new LiveSessions(opts.limits, opts.log);
  }

  /**
   * runTurn runs one turn through the engine and publishes its events.
   * `signal` cancels it (a unary caller's cancel).
   */
  async runTurn(req: TurnRequest, signal: AbortSignal, deadline: number | undefined, streams: TurnStreams = {}): Promise<TurnEnd> {
    const sessionId = req.sessionId || this.opts.newId();
    const live = this.live.get(sessionId);
    live.pins++;
    live.tenant ??= req.tenant;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    let begun = false;
    const events: TurnEvents = {
      begun: async ({ turnId, version, lastSeq }) => {
        await live.log.sync(this.opts.store, version, lastSeq);
        begun = true;
        const turn = live.begin(turnId, controller, streams.input);
        streams.onBegin?.(turn);
      },
      accepted: ({ stage, agent }) => live.accepted(stage, agent),
      output: ({ delta, agent }) => live.output(delta, agent),
      transition: ({ from, to }) => live.transition(from, to),
      storing: ({ steps }) => live.stepPositions(steps),
      settled: ({ outcome }) => live.settle(outcome),
    };
    try {
      const result = await this.opts.engine.runTurn({ ...req, sessionId }, controller.signal, deadline, events);
      const reason: unknown = controller.signal.reason;
      if (!result.interrupted && !result.replayed && reason instanceof Interruption) {
        // The barge-in came as the reply completed: the agent was not
        // cancelled, so record what the user heard of the committed reply.
        const amended = await this.amend(live, result.turnId, reason.heard);
        if (typeof amended === "object") this.opts.log.warn({ sessionId, err: amended.rejected }, "late barge-in not recorded");
      }
      return { result };
    } catch (e) {
      return { error: ConnectError.from(e), begun };
    } finally {
      // A turn that began must have ended its part of the log; if the
      // engine threw before saying how it ended, it ended as a failure
      // nobody stored.
      if (live.running?.controller === controller) {
        live.settle({ kind: "failed", error: new ConnectError("the turn ended without an outcome", Code.Internal), recorded: false });
      }
      streams.input?.end();
      signal.removeEventListener("abort", onAbort);
      live.pins--;
      this.live.evictIdle();
    }
  }

  /**
   * running returns the turn that holds a session on this replica, if any.
   */
  running(sessionId: string): LiveTurn | undefined {
    return this.live.peek(sessionId)?.running;
  }

  /**
   * bargeIn cancels the session's running turn (when `turnId` is empty or
   * names it), or else amends the latest committed turn's transcript to
   * what the user heard.
   */
  async bargeIn(sessionId: string, turnId: string, heard: Heard): Promise<BargeInOutcome> {
    const run = this.live.peek(sessionId)?.running;
    if (run !== undefined && (turnId === "" || turnId === run.turnId)) {
      if (!run.controller.signal.aborted) run.controller.abort(new Interruption(heard));
      return "cancelled";
    }
    return this.amend(this.live.get(sessionId), turnId, heard);
  }

  /**
   * amend has the engine cut the latest turn's reply to what was heard, and
   * publishes the amendment as a one-event turn.
   */
  private async amend(live: LiveSession, turnId: string, heard: Heard): Promise<BargeInOutcome> {
    live.pins++;
    const events: TurnEvents = {
      ...quietTurnEvents,
      begun: ({ version, lastSeq }) => live.log.sync(this.opts.store, version, lastSeq),
      storing: ({ steps }) => ({ details: live.log.stepDetails(undefined, steps), lastSeq: live.log.lastSeq + 1n }),
      settled: ({ outcome }) => live.publishAlone(outcome.kind === "committed" || outcome.kind === "interrupted" ? outcome.result.turnId : turnId, outcome),
    };
    try {
      return await this.opts.engine.amend({ sessionId: live.id, turnId, heard }, events);
    } catch (e) {
      return { rejected: ConnectError.from(e) };
    } finally {
      live.pins--;
    }
  }

  /**
   * open makes `owner` the Converse stream of a session: the events after
   * `after` are replayed, then the stream that owned the session (if any)
   * is taken over and live events follow. It resolves once the stream is
   * live, and throws OUT_OF_RANGE for an `after` beyond the session's last
   * event, or ABORTED when a newer stream took the session over first.
   */
  async open(sessionId: string, owner: Owner, after: bigint | undefined, signal: AbortSignal): Promise<void> {
    this.refuseWhenClosed();
    const live = this.live.get(sessionId);
    const subscribers = live.subscribers;
    // The newest open wins, once it is live: an open that fails (a bad
    // resume point) leaves the owning stream alone.
    const ticket = ++subscribers.ownerTicket;
    live.pins++;
    try {
      await this.attach(live, owner.queue, after, signal, () => {
        if (ticket !== subscribers.ownerTicket) throw superseded(sessionId);
        subscribers.takeOver();
        subscribers.owner = owner;
      });
    } finally {
      live.pins--;
    }
  }

  /**
   * watch attaches a read-only watcher to a session, replaying the events
   * after `after` first. It throws NOT_FOUND for a session that neither
   * exists nor has anything running here. A `partial` watcher is one of
   * several sources of a watch that spans replicas (watch-relay.ts): it
   * is attached whether or not the session exists, and an `after` beyond
   * this replica's last event means "from here on", since another replica
   * may be further on.
   */
  async watch(sessionId: string, queue: EventQueue, after: bigint | undefined, signal: AbortSignal, partial = false): Promise<void> {
    this.refuseWhenClosed();
    const live = this.live.get(sessionId);
    live.pins++;
    try {
      if (!partial && !this.holds(sessionId) && (await this.opts.store.get(sessionId)) === undefined) {
        throw notFound(`session ${sessionId}`);
      }
      await this.attach(live, queue, after, signal, () => live.subscribers.watch(queue), partial);
    } finally {
      live.pins--;
      this.live.evictIdle();
    }
  }

  /**
   * liveTenant is the tenant of the caller that ran a turn on a session this
   * replica holds (a turn or a Converse stream on it); undefined otherwise. Until a new session's first
   * turn is stored it is the only answer to whose the session is.
   */
  liveTenant(sessionId: string): string | undefined {
    const live = this.live.peek(sessionId);
    if (live === undefined) return undefined;
    // A turn pins its session from its start, before the engine has begun it.
    return live.pins > 0 || this.holds(sessionId) ? live.tenant : undefined;
  }

  /**
   * holds tells whether a session has a turn running or a Converse stream
   * on this replica.
   */
  holds(sessionId: string): boolean {
    const live = this.live.peek(sessionId);
    return live !== undefined && (live.running !== undefined || live.subscribers.owner !== undefined);
  }

  /**
   * release detaches a stream's queue from its session when the stream ends.
   */
  release(sessionId: string, queue: EventQueue): void {
    const live = this.live.peek(sessionId);
    if (live === undefined) return;
    live.subscribers.release(queue);
    this.live.evictIdle();
  }

  /**
   * close ends every stream with `error` once it has read what it was sent,
   * and refuses new ones: for a draining server.
   */
  close(error: ConnectError): void {
    this.closedWith = error;
    for (const live of this.live.values()) live.subscribers.close(error);
  }

  /** sessions is how many sessions the hub holds in memory. */
  get sessions(): number {
    return this.live.size;
  }

  /**
   * attach replays a session's events after `after` into `queue` (from the
   * window, or rebuilt from the audit trail where the window no longer
   * reaches), waiting for the reader as needed, then — in the same tick as
   * it sees nothing left to replay — sends `opened` and subscribes the
   * queue, so no event is missed or sent twice.
   */
  private async attach(
    live: LiveSession,
    queue: EventQueue,
    after: bigint | undefined,
    signal: AbortSignal,
    subscribe: () => void,
    partial = false,
  ): Promise<void> {
    const { log } = live;
    if (live.running === undefined) await log.refresh(this.opts.store);
    const session = await this.opts.store.get(live.id);
    if (partial && after !== undefined && after > log.lastSeq) after = log.lastSeq;
    if (after !== undefined && after > log.lastSeq) throw beyondLastEvent(live.id, after, log.lastSeq);
    let cursor = after ?? log.lastSeq;
    let replayed = 0n;
    const send = async (ev: SessionEvent) => {
      queue.push(ev);
      cursor = ev.seq;
      replayed++;
      if (queue.full) await untilSpace(queue, signal);
    };
    while (cursor < log.lastSeq) {
      if (signal.aborted || queue.closed) throw ConnectError.from(signal.reason ?? new ConnectError("stream closed", Code.Canceled));
      if (cursor >= log.floor) {
        const batch = log.eventsAfter(cursor);
        if (batch.length === 0) cursor = log.lastSeq;
        for (const ev of batch) await send(ev);
        continue;
      }
      const upTo = log.floor;
      for await (const ev of storedEvents(this.opts.store, live.id, cursor, upTo)) await send(ev);
      // What the store does not have (failed first turns of sessions that
      // were never created) is gone once the window let go of it.
      if (cursor < upTo) cursor = upTo;
    }
    // A stream that ended while its replay ran must not stay subscribed.
    if (queue.closed) throw ConnectError.from(signal.reason ?? new ConnectError("stream closed", Code.Canceled));
    subscribe();
    queue.push(
      event({ sessionId: live.id, turnId: "" }, 0n, {
        case: "opened",
        value: { lastSeq: log.lastSeq, replayed, ...(session !== undefined ? { session } : {}) },
      }),
    );
  }

  private refuseWhenClosed(): void {
    if (this.closedWith !== undefined) throw this.closedWith;
  }
}

/**
 * beyondLastEvent is the error of a resume from a seq the session has not
 * reached.
 */
export function beyondLastEvent(sessionId: string, after: bigint, lastSeq: bigint): ConnectError {
  return new ConnectError(
    `resume after seq ${after}: session ${sessionId} has no event after ${lastSeq}; resume from the last seq you received`,
    Code.OutOfRange,
  );
}

/**
 * untilSpace resolves once `queue` has room again or `signal` aborts.
 */
export async function untilSpace(queue: EventQueue, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    queue.whenSpace(),
    new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener("abort", onAbort, { once: true });
    }),
  ]);
  if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
}
