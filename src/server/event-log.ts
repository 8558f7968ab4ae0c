import type { OutputDelta } from "../gen/switchboard/v1/agent_pb.js";
import type { SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import { type Step, StepStatus } from "../gen/switchboard/v1/session_pb.js";
import type { SessionStore } from "../core/ports.js";
import {
  addOutput,
  event,
  type EventKind,
  type HopLog,
  hopDetails,
  hopEvents,
  newHop,
  outputWeight,
} from "../core/session-events.js";
import { positionAt } from "../core/stored-history.js";
import { eventSize } from "./event-queue.js";

/**
 * LoggedTurn is one turn's part of a session's event log.
 */
export interface LoggedTurn {
  turnId: string;
  /** The events as published; the oldest may have been trimmed. */
  events: SessionEvent[];
  sizes: number[];
  bytes: number;
  /** Events up to this seq were trimmed; `hops` rebuilds them. */
  trimmedThrough: bigint;
  /** The seq before the turn's first event. */
  start: bigint;
  /** The seq of the turn's last event so far. */
  end: bigint;
  /** The turn's agent calls as numbered, to rebuild trimmed events and to store with its steps. */
  hops: HopLog[];
  ended: boolean;
}

/**
 * Appended is an event just numbered, with its size in bytes.
 */
export interface Appended {
  event: SessionEvent;
  size: number;
}

/**
 * EventLog numbers one session's events on this replica and keeps the
 * recent ones, a window bounded in bytes. Each event's `seq` grows by its
 * weight (an output event by its text's code points), so that the audit
 * trail can rebuild events older than the window with the same numbers.
 */
export class EventLog {
  lastSeq = 0n;
  /** Every event with seq <= floor is only in the audit trail. */
  floor = 0n;
  /** The session version this log's numbering is known good for; -1 before the first look at the store. */
  knownVersion = -1n;
  private turns: LoggedTurn[] = [];
  private held = 0;

  /**
   * @param windowBytes bytes of recent events kept.
   * @param onBytes is told every change of the bytes the log holds.
   */
  constructor(
    readonly sessionId: string,
    private readonly windowBytes: number,
    private readonly onBytes: (delta: number) => void,
  ) {}

  /**
   * refresh compares the log with the stored history (another replica may
   * have served the session since this one last did) and lets go of the
   * window when the store has events the log does not. Nothing may run.
   */
  async refresh(store: SessionStore): Promise<void> {
    const session = await store.get(this.sessionId);
    // A session that was never stored has only the log's own events.
    if (session === undefined) return;
    const position = await positionAt(store, this.sessionId, session.version, session.lastSeq);
    if (this.knownVersion !== session.version || position > this.lastSeq) this.reset(session.version, position);
  }

  /**
   * sync makes the log's numbering good for `version` of the session, whose
   * stored history ends at `lastSeq`: when the log last saw another version,
   * it reads where the history stands and lets go of its window.
   */
  async sync(store: SessionStore, version: bigint, lastSeq: bigint): Promise<void> {
    if (this.knownVersion === version) return;
    // Version 0: the session is not stored yet; no failure is recorded at it.
    const position = version === 0n ? lastSeq : await positionAt(store, this.sessionId, version, lastSeq);
    this.reset(version, position);
  }

  /**
   * reset starts the log over at the stored history's end, without ever
   * numbering back below what it numbered already (a seq a stream saw is
   * never given to another event).
   */
  private reset(version: bigint, position: bigint): void {
    if (position > this.lastSeq) this.lastSeq = position;
    this.dropWindow(undefined);
    this.knownVersion = version;
  }

  /**
   * beginTurn starts a turn's part of the log; `before` the running turn
   * (if given) keeps the log in seq order for a one-event turn published
   * while another is held.
   */
  beginTurn(turnId: string, before?: LoggedTurn): LoggedTurn {
    const turn: LoggedTurn = {
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
    const at = before !== undefined ? this.turns.indexOf(before) : -1;
    if (at >= 0) this.turns.splice(at, 0, turn);
    else this.turns.push(turn);
    return turn;
  }

  /** accepted numbers an agent call's start. */
  accepted(turn: LoggedTurn, stage: string, agent: string): Appended {
    turn.hops.push(newHop(stage, agent, this.lastSeq + 1n));
    return this.append(turn, { case: "accepted", value: { stage, agent } }, 1);
  }

  /** output numbers a piece of the reply; undefined for an empty one or outside an agent call. */
  output(turn: LoggedTurn, delta: OutputDelta, agent: string): Appended | undefined {
    const hop = turn.hops[turn.hops.length - 1];
    if (hop === undefined || (delta.text === "" && delta.audio.byteLength === 0)) return undefined;
    const weight = outputWeight(delta.text);
    addOutput(hop, delta.text, this.lastSeq + BigInt(weight));
    return this.append(turn, { case: "output", value: { text: delta.text, audio: delta.audio, agent } }, weight);
  }

  /** transition numbers a change of stage; undefined outside an agent call. */
  transition(turn: LoggedTurn, from: string, to: string): Appended | undefined {
    const hop = turn.hops[turn.hops.length - 1];
    if (hop === undefined) return undefined;
    hop.transition = { seq: this.lastSeq + 1n, from, to };
    return this.append(turn, { case: "transition", value: { from, to } }, 1);
  }

  /**
   * stepDetails says, for each step about to be stored, where its events
   * stand in the log; the turn's last event (its end) gets the next seq.
   */
  stepDetails(turn: LoggedTurn | undefined, steps: readonly Step[]): Array<Record<string, string>> {
    const end = this.lastSeq + 1n;
    return steps.map((step, i) => {
      const hop = turn === undefined || step.status === StepStatus.FAILED ? undefined : turn.hops[i];
      return hopDetails(hop, i === steps.length - 1 ? end : undefined);
    });
  }

  /**
   * end numbers a turn's last event. The turn is ended before its last
   * event is kept: the window may then let go of the whole turn (it is
   * stored), but never of its last event alone.
   */
  end(turn: LoggedTurn, kind: EventKind): Appended {
    turn.ended = true;
    const appended = this.append(turn, kind, 1);
    if (turn.trimmedThrough <= turn.start) turn.hops = [];
    return appended;
  }

  /**
   * withdraw lets go of a turn that is not history (a run that lost a race,
   * a failure nobody stored): its events leave the window, and its seqs are
   * never given to other events.
   */
  withdraw(turn: LoggedTurn): void {
    const at = this.turns.indexOf(turn);
    if (at < 0) return;
    this.turns.splice(at, 1);
    this.held -= turn.bytes;
    this.onBytes(-turn.bytes);
  }

  /**
   * eventsAfter returns the held events after `cursor` (which must not be
   * below `floor`): exact ones, and rebuilt ones for a running turn's
   * trimmed beginning.
   */
  eventsAfter(cursor: bigint): SessionEvent[] {
    const out: SessionEvent[] = [];
    for (const turn of this.turns) {
      if (turn.end <= cursor) continue;
      if (turn.trimmedThrough > cursor) {
        for (const hop of turn.hops) {
          out.push(...hopEvents(hop, { sessionId: this.sessionId, turnId: turn.turnId }, cursor, turn.trimmedThrough));
        }
      }
      for (const ev of turn.events) if (ev.seq > cursor) out.push(ev);
    }
    return out;
  }

  /** dropWindow lets go of every held event but those of the running turn. */
  dropWindow(running: LoggedTurn | undefined): void {
    for (const t of this.turns) {
      if (t === running) continue;
      this.held -= t.bytes;
      this.onBytes(-t.bytes);
    }
    this.turns = running !== undefined ? [running] : [];
    const first = this.turns[0];
    this.floor = first !== undefined ? first.start : this.lastSeq;
  }

  private append(turn: LoggedTurn, kind: EventKind, weight: number): Appended {
    const seq = this.lastSeq + BigInt(weight);
    this.lastSeq = seq;
    const ev = event({ sessionId: this.sessionId, turnId: turn.turnId }, seq, kind);
    const size = eventSize(ev);
    turn.events.push(ev);
    turn.sizes.push(size);
    turn.bytes += size;
    turn.end = seq;
    this.held += size;
    this.onBytes(size);
    this.trim();
    return { event: ev, size };
  }

  /** trim lets go of the oldest events past the window's size. */
  private trim(): void {
    while (this.held > this.windowBytes) {
      const oldest = this.turns[0];
      if (oldest === undefined) return;
      if (!oldest.ended) {
        // The running turn: its hops rebuild what is trimmed.
        const ev = oldest.events.shift();
        const size = oldest.sizes.shift();
        if (ev === undefined || size === undefined) return;
        oldest.bytes -= size;
        oldest.trimmedThrough = ev.seq;
        this.held -= size;
        this.onBytes(-size);
        continue;
      }
      this.turns.shift();
      this.held -= oldest.bytes;
      this.onBytes(-oldest.bytes);
      this.floor = oldest.end;
    }
  }
}
