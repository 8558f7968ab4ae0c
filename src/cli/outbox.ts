/**
 * Outbox is the request side of a client stream: an async iterable that
 * yields what `push` puts in, in order, and ends after `end`. The transport
 * reads it as fast as it sends, so it holds only what a person typed and
 * has not gone out yet.
 */
export class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  /** push queues an item; after `end` it is dropped. */
  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  /** end lets the iterable finish once the queued items are out. */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** closed tells whether `end` was called. */
  get closed(): boolean {
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
