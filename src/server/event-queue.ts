import type { ConnectError } from "@connectrpc/connect";
import { AsyncQueue } from "../core/async-queue.js";
import { messageBytes } from "../core/message-bytes.js";
import type { SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";

/**
 * eventSize estimates the memory an event holds while it waits to be sent:
 * its text as UTF-16, its audio, and a fixed overhead. Other events (a
 * turn's end carries its result) are estimated from their data
 * (messageBytes), not encoded.
 */
export function eventSize(event: SessionEvent): number {
  const kind = event.kind;
  if (kind.case === "output") return 96 + kind.value.text.length * 2 + kind.value.audio.byteLength;
  return 96 + messageBytes(event);
}

/**
 * EventQueue is one stream's outgoing events, waiting for the client to
 * read them. It never refuses an event, but tells its producer when it
 * holds more than `limitBytes` (`full`, `whenSpace`) so the producer can
 * pace itself or give up on the reader (`fail`, which frees it at once).
 */
export class EventQueue extends AsyncQueue<SessionEvent> {
  constructor(readonly limitBytes: number) {
    super(limitBytes);
  }

  /** bytes is what the queue holds now. */
  get bytes(): number {
    return this.held;
  }

  /** push adds an event of `size` bytes (its estimate by default); after `end` or `fail` it is dropped. */
  override push(event: SessionEvent, size = eventSize(event)): void {
    super.push(event, size);
  }

  /**
   * end closes the queue after the events it holds are read; the reader
   * then gets `error` if one is given.
   */
  override end(error?: ConnectError): void {
    super.end(error);
  }

  /**
   * fail drops every waiting event and closes the queue with `error`.
   */
  override fail(error: ConnectError): void {
    super.fail(error);
  }
}
