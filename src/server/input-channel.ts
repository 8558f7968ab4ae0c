import type { InputDelta } from "../gen/switchboard/v1/agent_pb.js";

/**
 * InputChannel carries a turn's streamed input from the client's stream to
 * the agent's. It holds at most `limit` deltas: a client that sends input
 * faster than the agent takes it waits (`push` resolves once there is
 * room), so the orchestrator never buffers input without bound.
 */
export class InputChannel implements AsyncIterable<InputDelta> {
  private readonly items: InputDelta[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private room: (() => void) | undefined;
  /** The code units of text received so far. */
  textLength = 0;

  constructor(private readonly limit = 64) {}

  /** closed tells whether the input is complete (final, or the stream that fed it went away). */
  get closed(): boolean {
    return this.ended;
  }

  /**
   * push adds a delta and resolves once the channel has room for more;
   * after `end` the delta is dropped.
   */
  async push(delta: InputDelta): Promise<void> {
    if (this.ended) return;
    this.items.push(delta);
    this.textLength += delta.text.length;
    if (delta.final) this.ended = true;
    this.wake?.();
    while (this.items.length >= this.limit && !this.ended) {
      await new Promise<void>((resolve) => (this.room = resolve));
    }
  }

  /** end completes the input. */
  end(): void {
    this.ended = true;
    this.wake?.();
    this.room?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<InputDelta> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        this.room?.();
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
