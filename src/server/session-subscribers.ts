import { Code, ConnectError } from "@connectrpc/connect";
import { event } from "../core/session-events.js";
import type { Logger } from "../log.js";
import type { EventQueue } from "./event-queue.js";
import type { Appended } from "./event-log.js";

/**
 * Owner is the Converse stream that owns a session.
 */
export interface Owner {
  readonly queue: EventQueue;
  /** Called when a newer stream takes the session over. */
  takenOver(): void;
}

/**
 * SubscriberLimits bound how far a subscriber may fall behind.
 */
export interface SubscriberLimits {
  /** Bytes a stream may hold unread before it is paced (owner) or failed (watcher). */
  streamBufferBytes: number;
  /** How long a full owner's stream may hold up the agent's output before it fails. */
  slowReaderMs: number;
}

/**
 * Subscribers are the streams that receive one session's live events: the
 * owning Converse stream, whose reader paces the turn, and read-only
 * watchers, which are dropped when they fall too far behind.
 */
export class Subscribers {
  owner: Owner | undefined;
  /** Counts opens, so that only the newest one takes the session over. */
  ownerTicket = 0;
  /** The read-only watchers, made with the first: most sessions never have one. */
  private watchers: Set<EventQueue> | undefined;

  constructor(
    private readonly sessionId: string,
    private readonly limits: SubscriberLimits,
    private readonly log: Logger,
  ) {}

  get empty(): boolean {
    return this.owner === undefined && (this.watchers === undefined || this.watchers.size === 0);
  }

  /** watch adds a read-only watcher. */
  watch(queue: EventQueue): void {
    (this.watchers ??= new Set()).add(queue);
  }

  /**
   * deliver sends an event to every subscriber; the promise it returns, if
   * any, resolves once the owner's reader has room again (pacing).
   */
  deliver({ event: ev, size }: Appended): Promise<void> | undefined {
    const { streamBufferBytes } = this.limits;
    const watchers = this.watchers ?? [];
    for (const w of watchers) {
      w.push(ev, size);
      if (w.full) {
        this.watchers?.delete(w);
        w.fail(
          new ConnectError(
            `this watcher fell more than ${streamBufferBytes} bytes behind session ${this.sessionId}; watch again with after_seq set to the last seq you received`,
            Code.ResourceExhausted,
          ),
        );
        this.log.warn({ sessionId: this.sessionId, seq: ev.seq.toString() }, "watcher too slow: stream failed");
      }
    }
    const owner = this.owner;
    if (owner === undefined) return undefined;
    owner.queue.push(ev, size);
    return owner.queue.full ? this.pace(owner) : undefined;
  }

  /** takeOver ends the owning stream, if any: a newer one is opening. */
  takeOver(): void {
    const old = this.owner;
    if (old === undefined) return;
    this.owner = undefined;
    const error = superseded(this.sessionId);
    old.queue.push(event({ sessionId: this.sessionId, turnId: "" }, 0n, { case: "takenOver", value: { reason: error.rawMessage } }));
    old.queue.end(error);
    old.takenOver();
  }

  /** release detaches a stream's queue when the stream ends. */
  release(queue: EventQueue): void {
    if (this.owner?.queue === queue) this.owner = undefined;
    this.watchers?.delete(queue);
  }

  /** close ends every stream with `error` once it has read what it was sent. */
  close(error: ConnectError): void {
    this.owner?.queue.end(error);
    this.owner = undefined;
    for (const w of this.watchers ?? []) w.end(error);
    this.watchers = undefined;
  }

  /**
   * pace holds up the turn's output until the owning stream's reader
   * catches up; a reader that does not within `slowReaderMs` loses its
   * stream (the turn goes on, and the client can resume).
   */
  private pace(owner: Owner): Promise<void> {
    const { slowReaderMs, streamBufferBytes } = this.limits;
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
        this.log.warn({ sessionId: this.sessionId }, "converse reader too slow: stream failed");
        resolve();
      }, slowReaderMs);
      void owner.queue.whenSpace().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * superseded is the error of a stream whose session a newer stream took over.
 */
export function superseded(sessionId: string): ConnectError {
  return new ConnectError(
    `another Converse stream opened session ${sessionId} and now owns it (the newest stream of a session wins); do not reconnect automatically`,
    Code.Aborted,
  );
}
