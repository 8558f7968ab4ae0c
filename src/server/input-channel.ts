import { AsyncQueue } from "../core/async-queue.js";
import type { InputDelta } from "../gen/switchboard/v1/agent_pb.js";

/**
 * InputChannel carries a turn's streamed input from the client's stream to
 * the agent's. It holds at most `limit` deltas: a client that sends input
 * faster than the agent takes it waits (`push` resolves once there is
 * room), so the orchestrator never buffers input without bound.
 */
export class InputChannel implements AsyncIterable<InputDelta> {
  // Full past limit - 1 deltas, so that a push waits once `limit` are held.
  private readonly queue: AsyncQueue<InputDelta>;
  /** The code units of text received so far. */
  textLength = 0;

  constructor(limit = 64) {
    this.queue = new AsyncQueue(limit - 1);
  }

  /** closed tells whether the input is complete (final, or the stream that fed it went away). */
  get closed(): boolean {
    return this.queue.closed;
  }

  /**
   * push adds a delta and resolves once the channel has room for more;
   * after `end` the delta is dropped.
   */
  async push(delta: InputDelta): Promise<void> {
    if (this.queue.closed) return;
    this.queue.push(delta);
    this.textLength += delta.text.length;
    if (delta.final) this.queue.end();
    await this.queue.whenSpace();
  }

  /** end completes the input. */
  end(): void {
    this.queue.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<InputDelta> {
    return this.queue[Symbol.asyncIterator]();
  }
}
