import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { InputDelta, OutputDelta } from "../gen/switchboard/v1/agent_pb.js";
import {
  type SendTurnResponse,
  SendTurnResponseSchema,
  type SessionEvent,
} from "../gen/switchboard/v1/orchestrator_pb.js";
import { SessionStatus, type Step, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { Engine, TurnObserver, TurnOutcome, TurnRequest } from "../core/engine.js";
import { codeName, notFound } from "../core/errors.js";
import { amendHeard, type Heard, Interruption } from "../core/interruption.js";
import type { Clock, SessionStore } from "../core/ports.js";
import {
  addOutput,
  event,
  type EventKind,
  type HopLog,
  hopDetails,
  hopEvents,
  newHop,
  outputWeight,
  storedEvents,
  storedPosition,
} from "../core/session-events.js";
import type { Logger } from "../log.js";
import { EventQueue, eventSize } from "./event-queue.js";
import type { InputChannel } from "./input-channel.js";

/**
 * HubLimits bound what the hub holds in memory.
 */
export interface HubLimits {
  /** Bytes of recent events kept per session, replayed exactly on resume. */
  windowBytes: number;
  /** Bytes of recent events kept for all sessions together; idle sessions are evicted past it. */
  totalWindowBytes: number;
  /** Bytes an outgoing stream may hold unread before it is paced (Converse) or failed (WatchSession). */
  streamBufferBytes: number;
  /** How long a full Converse stream may hold up the agent's output before it fails with RESOURCE_EXHAUSTED. */
  slowReaderMs: number;
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
 * HubOptions are what the hub needs.
 */
export interface HubOptions {
  engine: Engine;
  store: SessionStore;
  clock: Clock;
  newId: () => string;
  sessionTtlMs: number;
  limits: HubLimits;
  log: Logger;
}

/**
 * RunningTurn is a turn that holds its session: the target of a barge-in
 * and of streamed input.
 */
export interface RunningTurn {
  readonly sessionId: string;
  readonly turnId: string;
  /** The agent of the current call; empty before the first. */
  readonly agent: string;
  /** Streamed input, when the turn takes it. */
  readonly input: InputChannel | undefined;
}

/**
 * TurnRun is how a turn run through the hub ended. `begun` is false when
 * the turn failed before it held its session (its error is then not part
 * of the session's history).
 */
export type TurnRun = { result: SendTurnResponse } | { error: ConnectError; begun: boolean };

/**
 * BargeInOutcome is what a barge-in did.
 */
export type BargeInOutcome = "cancelled" | "amended" | "unchanged" | { rejected: ConnectError };

/**
 * Owner is the Converse stream that owns a session.
 */
export interface Owner {
  readonly queue: EventQueue;
  /** Called when a newer stream takes the session over. */
  takenOver(): void;
}

interface TurnRecord {
  turnId: string;
  /** The events as published; the oldest may have been trimmed. */
  events: SessionEvent[];
  sizes: number[];
  bytes: number;
  /** Events up to this seq were trimmed; `hops` rebuilds them. */
  trimmedThrough: bigint;
  start: bigint;
  end: bigint;
  hops: HopLog[];
  ended: boolean;
}

interface Running extends RunningTurn {
  agent: string;
  controller: AbortController;
  record: TurnRecord;
}

/**
 * SessionHub numbers and distributes sessions' events. Every turn, unary
 * (SendTurn) or streamed (Converse), runs through `runTurn`, which runs it
 * in the engine and publishes what the engine observes; streams attach to
 * a session to receive its events, replayed from where they left off.
 *
 * Per session it keeps the recent events (a window bounded in bytes, with
 * idle sessions evicted past a total), the running turn, the owning
 * Converse stream and the watchers. Events older than the window are
 * rebuilt from the audit trail (see session-events.ts), so a resume never
 * depends on this process's memory for what is committed.
 */
export class SessionHub {
  private readonly channels = new Map<string, Channel>();
  private windowBytes = 0;
  private closedWith: ConnectError | undefined;

  constructor(readonly opts: HubOptions) {}

  /**
   * runTurn runs one turn through the engine and publishes its events.
   * `signal` cancels it (a unary caller's cancel); `input` streams more
   * input to the agent; `onBegin` learns the turn once it holds its session.
   */
  async runTurn(
    req: TurnRequest,
    signal: AbortSignal,
    deadline: number | undefined,
    extra: { input?: InputChannel; inputStream?: AsyncIterable<InputDelta>; onBegin?: (turn: RunningTurn) => void } = {},
  ): Promise<TurnRun> {
    const sessionId = req.sessionId || this.opts.newId();
    const channel = this.channel(sessionId);
    channel.pins++;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    let begun = false;
    const observer: TurnObserver = {
      // A unary caller sees only the result: a turn that lost a race to
      // another replica may run again (watchers see it end and restart).
      rerunnable: extra.input === undefined && extra.inputStream === undefined && extra.onBegin === undefined,
      begin: async (turnId, version) => {
        await channel.sync(version);
        begun = true;
        const running = channel.begin(turnId, controller, extra.input);
        extra.onBegin?.(running);
      },
      accepted: (stage, agent) => channel.accepted(stage, agent),
      output: (delta, agent) => channel.output(delta, agent),
      transition: (from, to) => channel.transition(from, to),
      steps: (steps) => channel.annotate(steps),
      settled: (outcome) => {
        if (begun) channel.settle(outcome, controller.signal.reason);
      },
    };
    const inputStream = extra.inputStream ?? extra.input;
    const turn: TurnRequest = { ...req, sessionId, ...(inputStream !== undefined ? { inputStream } : {}) };
    try {
      const result = await this.opts.engine.runTurn(turn, controller.signal, deadline, observer);
      const reason: unknown = controller.signal.reason;
      if (!result.interrupted && !result.replayed && reason instanceof Interruption) {
        // The barge-in came as the reply completed: the agent was not
        // cancelled, so record what the user heard of the committed reply.
        const amended = await this.amend(sessionId, result.turnId, reason.heard).catch((e: unknown) => ({ rejected: ConnectError.from(e) }));
        if (typeof amended === "object") this.opts.log.warn({ sessionId, err: amended.rejected }, "late barge-in not recorded");
      }
      return { result };
    } catch (e) {
      return { error: ConnectError.from(e), begun };
    } finally {
      // A turn that began must have ended its record; if the engine threw
      // before saying how it ended, it ended as a failure nobody stored.
      if (channel.running?.controller === controller) {
        channel.settle({ error: new ConnectError("the turn ended without an outcome", Code.Internal), recorded: false }, undefined);
      }
      extra.input?.end();
      signal.removeEventListener("abort", onAbort);
      channel.pins--;
      this.evictIdle();
    }
  }

  /**
   * running returns the turn that holds a session on this replica, if any.
   */
  running(sessionId: string): RunningTurn | undefined {
    return this.channels.get(sessionId)?.running;
  }

  /**
   * bargeIn cancels the session's running turn (when `turnId` is empty or
   * names it), or else amends the latest committed turn's transcript to
   * what the user heard.
   */
  async bargeIn(sessionId: string, turnId: string, heard: Heard): Promise<BargeInOutcome> {
    const run = this.channels.get(sessionId)?.running;
    if (run !== undefined && (turnId === "" || turnId === run.turnId)) {
      if (!run.controller.signal.aborted) run.controller.abort(new Interruption(heard));
      return "cancelled";
    }
    return this.amend(sessionId, turnId, heard);
  }

  private amend(sessionId: string, turnId: string, heard: Heard): Promise<BargeInOutcome> {
    const { engine, store, clock, sessionTtlMs } = this.opts;
    return engine.exclusive(sessionId, async (): Promise<BargeInOutcome> => {
      const current = await store.get(sessionId);
      if (current === undefined) return { rejected: notFound(`session ${sessionId}`) };
      const amendment = amendHeard(current, { turnId, heard, now: clock.now(), ttlMs: sessionTtlMs });
      if (amendment.kind === "unchanged") return "unchanged";
      if (amendment.kind === "not-latest") {
        return {
          rejected: new ConnectError(
            `turn ${JSON.stringify(turnId)} is neither running nor the latest turn of session ${sessionId}` +
              `${amendment.latest ? ` (the latest is ${JSON.stringify(amendment.latest)})` : ""}; only the reply being heard can be interrupted`,
            Code.FailedPrecondition,
          ),
        };
      }
      const channel = this.channel(sessionId);
      channel.pins++;
      try {
        await channel.sync(current.version);
        amendment.step.details = { ...amendment.step.details, ...hopDetails(undefined, channel.lastSeq + 1n) };
        await store.commit({ session: amendment.session, expectedVersion: current.version, reason: "interruption", steps: [amendment.step] });
        const result = create(SendTurnResponseSchema, {
          sessionId,
          turnId: amendment.turnId,
          output: amendment.heard,
          agent: amendment.step.agent,
          stageCompleted: amendment.step.stage,
          nextStage: amendment.session.stage,
          isComplete: amendment.session.status === SessionStatus.COMPLETED,
          session: amendment.session,
          interrupted: true,
        });
        channel.knownVersion = amendment.session.version;
        channel.publishAlone(amendment.turnId, {
          case: "interrupted",
          value: { heard: amendment.heard, heardMs: heard.ms ?? 0, result, afterCompletion: true },
        });
        return "amended";
      } finally {
        channel.pins--;
      }
    });
  }

  /**
   * open makes `owner` the Converse stream of a session: the events after
   * `after` are replayed, then the stream that owned the session (if any)
   * is taken over and live events follow. It resolves with the number of replayed events
   * once the stream is live, and throws OUT_OF_RANGE for an `after` beyond
   * the session's last event, or ABORTED when a newer stream took the
   * session over first.
   */
  async open(sessionId: string, owner: Owner, after: bigint | undefined, signal: AbortSignal): Promise<void> {
    this.refuseWhenClosed();
    const channel = this.channel(sessionId);
    // The newest open wins, once it is live: an open that fails (a bad
    // resume point) leaves the owning stream alone.
    const ticket = ++channel.ownerTicket;
    channel.pins++;
    try {
      await this.attach(channel, owner.queue, after, signal, () => {
        if (ticket !== channel.ownerTicket) throw superseded(sessionId);
        channel.takeOver();
        channel.owner = owner;
      });
    } finally {
      channel.pins--;
    }
  }

  /**
   * watch attaches a read-only watcher to a session, replaying the events
   * after `after` first. It throws NOT_FOUND for a session that neither
   * exists nor has anything running here.
   */
  async watch(sessionId: string, queue: EventQueue, after: bigint | undefined, signal: AbortSignal): Promise<void> {
    this.refuseWhenClosed();
    const channel = this.channel(sessionId);
    channel.pins++;
    try {
      if (channel.running === undefined && channel.owner === undefined && (await this.opts.store.get(sessionId)) === undefined) {
        throw notFound(`session ${sessionId}`);
      }
      await this.attach(channel, queue, after, signal, () => channel.watchers.add(queue));
    } finally {
      channel.pins--;
      this.evictIdle();
    }
  }

  /**
   * release detaches a stream's queue from its session when the stream ends.
   */
  release(sessionId: string, queue: EventQueue): void {
    const channel = this.channels.get(sessionId);
    if (channel === undefined) return;
    if (channel.owner?.queue === queue) channel.owner = undefined;
    channel.watchers.delete(queue);
    this.evictIdle();
  }

  /**
   * close ends every stream with `error` once it has read what it was sent,
   * and refuses new ones: for a draining server.
   */
  close(error: ConnectError): void {
    this.closedWith = error;
    for (const channel of this.channels.values()) {
      channel.owner?.queue.end(error);
      channel.owner = undefined;
      for (const w of channel.watchers) w.end(error);
      channel.watchers.clear();
    }
  }

  /** sessions is how many sessions the hub holds in memory. */
  get sessions(): number {
    return this.channels.size;
  }

  /**
   * attach replays a session's events after `after` into `queue` (from the
   * window, or rebuilt from the audit trail where the window no longer
   * reaches), waiting for the reader as needed, then — in the same tick as
   * it sees nothing left to replay — sends `opened` and subscribes the
   * queue, so no event is missed or sent twice.
   */
  private async attach(
    channel: Channel,
    queue: EventQueue,
    after: bigint | undefined,
    signal: AbortSignal,
    subscribe: () => void,
  ): Promise<void> {
    if (channel.running === undefined) await channel.refresh();
    const session = await this.opts.store.get(channel.id);
    if (after !== undefined && after > channel.lastSeq) {
      throw new ConnectError(
        `resume after seq ${after}: session ${channel.id} has no event after ${channel.lastSeq}; resume from the last seq you received`,
        Code.OutOfRange,
      );
    }
    let cursor = after ?? channel.lastSeq;
    let replayed = 0n;
    const send = async (ev: SessionEvent) => {
      queue.push(ev);
      cursor = ev.seq;
      replayed++;
      if (queue.full) await untilSpace(queue, signal);
    };
    while (cursor < channel.lastSeq) {
      if (signal.aborted || queue.closed) throw ConnectError.from(signal.reason ?? new ConnectError("stream closed", Code.Canceled));
      if (cursor >= channel.floor) {
        const batch = channel.eventsAfter(cursor);
        if (batch.length === 0) cursor = channel.lastSeq;
        for (const ev of batch) await send(ev);
        continue;
      }
      const upTo = channel.floor;
      for await (const ev of storedEvents(this.opts.store, channel.id, cursor, upTo)) await send(ev);
      // What the store does not have (failed first turns of sessions that
      // were never created) is gone once the window let go of it.
      if (cursor < upTo) cursor = upTo;
    }
    subscribe();
    queue.push(
      event({ sessionId: channel.id, turnId: "" }, 0n, {
        case: "opened",
        value: { lastSeq: channel.lastSeq, replayed, ...(session !== undefined ? { session } : {}) },
      }),
    );
  }

  private channel(sessionId: string): Channel {
    let channel = this.channels.get(sessionId);
    if (channel === undefined) {
      channel = new Channel(sessionId, this);
      this.channels.set(sessionId, channel);
    } else {
      // Map order is recency order: the least recently used come first.
      this.channels.delete(sessionId);
      this.channels.set(sessionId, channel);
    }
    return channel;
  }

  /** @private windowChanged tracks the bytes all windows hold. */
  windowChanged(delta: number): void {
    this.windowBytes += delta;
    if (delta > 0 && this.windowBytes > this.opts.limits.totalWindowBytes) this.evictIdle();
  }

  private evictIdle(): void {
    const { maxIdleSessions, totalWindowBytes } = this.opts.limits;
    let idle = 0;
    for (const channel of this.channels.values()) if (channel.idle) idle++;
    for (const [id, channel] of this.channels) {
      if (idle <= maxIdleSessions && this.windowBytes <= totalWindowBytes) break;
      if (!channel.idle) continue;
      channel.dropWindow();
      this.channels.delete(id);
      idle--;
    }
  }

  private refuseWhenClosed(): void {
    if (this.closedWith !== undefined) throw this.closedWith;
  }
}

function superseded(sessionId: string): ConnectError {
  return new ConnectError(
    `another Converse stream opened session ${sessionId} and now owns it (the newest stream of a session wins); do not reconnect automatically`,
    Code.Aborted,
  );
}

async function untilSpace(queue: EventQueue, signal: AbortSignal): Promise<void> {
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

/**
 * Channel is one session's events on this replica: numbering, window,
 * running turn and subscribers.
 */
class Channel {
  lastSeq = 0n;
  /** Every event with seq <= floor is only in the audit trail. */
  floor = 0n;
  /** The session version this channel's numbering is known good for; -1 before the first look at the store. */
  knownVersion = -1n;
  records: TurnRecord[] = [];
  bytes = 0;
  owner: Owner | undefined;
  ownerTicket = 0;
  readonly watchers = new Set<EventQueue>();
  running: Running | undefined;
  /** Turns and opens in progress that keep the channel from eviction. */
  pins = 0;

  constructor(
    readonly id: string,
    private readonly hub: SessionHub,
  ) {}

  get idle(): boolean {
    return this.pins === 0 && this.running === undefined && this.owner === undefined && this.watchers.size === 0;
  }

  /**
   * refresh learns the last seq and version from the audit trail (another
   * replica may have served the session since this one last did).
   */
  async refresh(): Promise<void> {
    const stored = await storedPosition(this.hub.opts.store, this.id);
    if (stored.lastSeq > this.lastSeq) {
      this.lastSeq = stored.lastSeq;
      this.floor = this.lastSeq;
      this.dropWindow();
    }
    if (this.running === undefined) this.knownVersion = stored.version;
  }

  /** sync refreshes when the session's version is not the one last seen. */
  async sync(version: bigint): Promise<void> {
    if (this.knownVersion !== version) await this.refresh();
    this.knownVersion = version;
  }

  begin(turnId: string, controller: AbortController, input: InputChannel | undefined): Running {
    const record: TurnRecord = {
      turnId,
      events: [],
      sizes: [],
      bytes: 0,
      trimmedThrough: this.lastSeq,
      start: this.lastSeq,
      end: this.lastSeq,
      hops: [],
      ended: false,
    };
    this.records.push(record);
    this.running = { sessionId: this.id, turnId, agent: "", input, controller, record };
    return this.running;
  }

  accepted(stage: string, agent: string): void {
    const run = this.running;
    if (run === undefined) return;
    run.agent = agent;
    run.record.hops.push(newHop(stage, agent, this.lastSeq + 1n));
    this.publish(run.record, { case: "accepted", value: { stage, agent } }, 1);
  }

  output(delta: OutputDelta, agent: string): Promise<void> | undefined {
    const run = this.running;
    const hop = run?.record.hops[run.record.hops.length - 1];
    if (run === undefined || hop === undefined || (delta.text === "" && delta.audio.byteLength === 0)) return undefined;
    const weight = outputWeight(delta.text);
    addOutput(hop, delta.text, this.lastSeq + BigInt(weight));
    return this.publish(run.record, { case: "output", value: { text: delta.text, audio: delta.audio, agent } }, weight);
  }

  transition(from: string, to: string): void {
    const run = this.running;
    const hop = run?.record.hops[run.record.hops.length - 1];
    if (run === undefined || hop === undefined) return;
    hop.transition = { seq: this.lastSeq + 1n, from, to };
    this.publish(run.record, { case: "transition", value: { from, to } }, 1);
  }

  /**
   * annotate writes into the steps about to be stored the seqs of their
   * events; the turn's last event (published by `settle`) gets the next seq.
   */
  annotate(steps: Step[]): void {
    const run = this.running;
    if (run === undefined) return;
    const end = this.lastSeq + 1n;
    steps.forEach((step, i) => {
      const hop = step.status === StepStatus.FAILED ? undefined : run.record.hops[i];
      step.details = { ...step.details, ...hopDetails(hop, i === steps.length - 1 ? end : undefined) };
    });
  }

  settle(outcome: TurnOutcome, reason: unknown): void {
    const run = this.running;
    if (run === undefined) return;
    let kind: EventKind;
    if ("result" in outcome) {
      const { result } = outcome;
      if (result.replayed) return;
      kind = result.interrupted
        ? {
            case: "interrupted",
            value: {
              heard: outcome.heard ?? "",
              heardMs: reason instanceof Interruption ? (reason.heard.ms ?? 0) : 0,
              result,
            },
          }
        : { case: "completed", value: { result } };
      if (result.session !== undefined) this.knownVersion = result.session.version;
    } else {
      kind = { case: "failed", value: { code: codeName(outcome.error.code), message: outcome.error.rawMessage } };
    }
    // Ended before its last event is published: the window may then let
    // go of the whole turn (it is stored), but never of its last event alone.
    const record = run.record;
    record.ended = true;
    this.running = undefined;
    this.publish(record, kind, 1);
    if (record.trimmedThrough <= record.start) record.hops = [];
  }

  /** publishAlone publishes a one-event turn record (a late barge-in). */
  publishAlone(turnId: string, kind: EventKind): void {
    const record: TurnRecord = {
      turnId,
      events: [],
      sizes: [],
      bytes: 0,
      trimmedThrough: this.lastSeq,
      start: this.lastSeq,
      end: this.lastSeq,
      hops: [],
      ended: true,
    };
    // Keep records in seq order: a running turn's record stays last.
    const at = this.running !== undefined ? this.records.indexOf(this.running.record) : -1;
    if (at >= 0) this.records.splice(at, 0, record);
    else this.records.push(record);
    this.publish(record, kind, 1);
  }

  /**
   * eventsAfter returns the held events after `cursor` (which must not be
   * below `floor`): exact ones, and rebuilt ones for a running turn's
   * trimmed beginning.
   */
  eventsAfter(cursor: bigint): SessionEvent[] {
    const out: SessionEvent[] = [];
    for (const record of this.records) {
      if (record.end <= cursor) continue;
      if (record.trimmedThrough > cursor) {
        for (const hop of record.hops) {
          out.push(...hopEvents(hop, { sessionId: this.id, turnId: record.turnId }, cursor, record.trimmedThrough));
        }
      }
      for (const ev of record.events) if (ev.seq > cursor) out.push(ev);
    }
    return out;
  }

  /** takeOver ends the owning stream, if any: a newer one is opening. */
  takeOver(): void {
    const old = this.owner;
    if (old === undefined) return;
    this.owner = undefined;
    const error = superseded(this.id);
    old.queue.push(event({ sessionId: this.id, turnId: "" }, 0n, { case: "takenOver", value: { reason: error.rawMessage } }));
    old.queue.end(error);
    old.takenOver();
  }

  dropWindow(): void {
    const held = this.records.filter((r) => r !== this.running?.record);
    for (const r of held) {
      this.bytes -= r.bytes;
      this.hub.windowChanged(-r.bytes);
    }
    this.records = this.running !== undefined ? [this.running.record] : [];
    const first = this.records[0];
    this.floor = first !== undefined ? first.start : this.lastSeq;
  }

  private publish(record: TurnRecord, kind: EventKind, weight: number): Promise<void> | undefined {
    const seq = this.lastSeq + BigInt(weight);
    this.lastSeq = seq;
    const ev = event({ sessionId: this.id, turnId: record.turnId }, seq, kind);
    const size = eventSize(ev);
    record.events.push(ev);
    record.sizes.push(size);
    record.bytes += size;
    record.end = seq;
    this.bytes += size;
    this.hub.windowChanged(size);
    const limits = this.hub.opts.limits;
    for (const w of this.watchers) {
      w.push(ev, size);
      if (w.full) {
        this.watchers.delete(w);
        w.fail(
          new ConnectError(
            `this watcher fell more than ${limits.streamBufferBytes} bytes behind session ${this.id}; watch again with after_seq set to the last seq you received`,
            Code.ResourceExhausted,
          ),
        );
        this.hub.opts.log.warn({ sessionId: this.id, seq: seq.toString() }, "watcher too slow: stream failed");
      }
    }
    let paced: Promise<void> | undefined;
    const owner = this.owner;
    if (owner !== undefined) {
      owner.queue.push(ev, size);
      if (owner.queue.full) paced = this.pace(owner);
    }
    this.trim();
    return paced;
  }

  /**
   * pace holds up the turn's output until the owning stream's reader
   * catches up; a reader that does not within `slowReaderMs` loses its
   * stream (the turn goes on, and the client can resume).
   */
  private pace(owner: Owner): Promise<void> {
    const { slowReaderMs, streamBufferBytes } = this.hub.opts.limits;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.owner === owner) this.owner = undefined;
        owner.queue.fail(
          new ConnectError(
            `the client read none of this stream's events for ${slowReaderMs}ms while more than ${streamBufferBytes} bytes waited; ` +
              `the turn goes on: reconnect with resume_after_seq set to the last seq you received`,
            Code.ResourceExhausted,
          ),
        );
        this.hub.opts.log.warn({ sessionId: this.id }, "converse reader too slow: stream failed");
        resolve();
      }, slowReaderMs);
      void owner.queue.whenSpace().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** trim lets go of the oldest events past the window's size. */
  private trim(): void {
    const { windowBytes } = this.hub.opts.limits;
    while (this.bytes > windowBytes) {
      const oldest = this.records[0];
      if (oldest === undefined) return;
      if (!oldest.ended) {
        // The running turn: its hops rebuild what is trimmed.
        const ev = oldest.events.shift();
        const size = oldest.sizes.shift();
        if (ev === undefined || size === undefined) return;
        oldest.bytes -= size;
        oldest.trimmedThrough = ev.seq;
        this.bytes -= size;
        this.hub.windowChanged(-size);
        continue;
      }
      this.records.shift();
      this.bytes -= oldest.bytes;
      this.hub.windowChanged(-oldest.bytes);
      this.floor = oldest.end;
    }
  }
}
