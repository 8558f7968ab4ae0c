import { toBinary } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { type SessionEvent, SessionEventSchema } from "../gen/switchboard/v1/orchestrator_pb.js";

/**
 * eventSize estimates the memory an event holds while it waits to be sent:
 * its text as UTF-16, its audio, and a fixed overhead. Events other than
 * output chunks are rare and measured exactly.
 */
export function eventSize(event: SessionEvent): number {
  const kind = event.kind;
  if (kind.case === "output") return 96 + kind.value.text.length * 2 + kind.value.audio.byteLength;
  return 96 + toBinary(SessionEventSchema, event).byteLength;
}

/**
 * EventQueue is one stream's outgoing events, waiting for the client to
 * read them. It never refuses an event, but tells its producer when it
 * holds more than `limitBytes` (`full`, `whenSpace`) so the producer can
 * pace itself or give up on the reader (`fail`, which frees it at once).
 */
export class EventQueue implements AsyncIterable<SessionEvent> {
  private items: Array<SessionEvent | undefined> = [];
  private sizes: number[] = [];
  private head = 0;
  private held = 0;
  private done: { error?: ConnectError } | undefined;
  private wake: (() => void) | undefined;
  private spaceWaiters = new Set<() => void>();

  constructor(readonly limitBytes: number) {}

  /** bytes is what the queue holds now. */
  get bytes(): number {
    return this.held;
  }

  /** full tells whether the queue holds more than its limit. */
  get full(): boolean {
    return this.held > this.limitBytes;
  }

  /** closed tells whether the queue takes no more events. */
  get closed(): boolean {
    return this.done !== undefined;
  }

  /** push adds an event; after `end` or `fail` it is dropped. */
  push(event: SessionEvent, size = eventSize(event)): void {
    if (this.done !== undefined) return;
    this.items.push(event);
    this.sizes.push(size);
    this.held += size;
    this.wake?.();
  }

  /**
   * whenSpace resolves once the queue is at or below its limit, or closed.
   */
  whenSpace(): Promise<void> {
    if (!this.full || this.done !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.add(resolve));
  }

  /**
   * end closes the queue after the events it holds are read; the reader
   * then gets `error` if one is given.
   */
  end(error?: ConnectError): void {
    if (this.done !== undefined) return;
    this.done = error === undefined ? {} : { error };
    this.wake?.();
    this.releaseWaiters();
  }

  /**
   * fail drops every waiting event and closes the queue with `error`.
   */
  fail(error: ConnectError): void {
    if (this.done !== undefined && this.head >= this.items.length) return;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.held = 0;
    this.done = { error };
    this.wake?.();
    this.releaseWaiters();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    for (;;) {
      if (this.head < this.items.length) {
        const event = this.items[this.head] as SessionEvent;
        // Drop the reference at once: a read event must not stay in memory.
        this.items[this.head] = undefined;
        this.held -= this.sizes[this.head] as number;
        this.head++;
        if (this.head >= 64 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.sizes = this.sizes.slice(this.head);
          this.head = 0;
        }
        if (!this.full) this.releaseWaiters();
        yield event;
        continue;
      }
      if (this.done !== undefined) {
        if (this.done.error !== undefined) throw this.done.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  private releaseWaiters(): void {
    const waiters = [...this.spaceWaiters];
    this.spaceWaiters.clear();
    for (const resolve of waiters) resolve();
  }
}
