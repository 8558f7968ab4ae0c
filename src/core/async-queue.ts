/**
 * AsyncQueue is a push-to-async-iterator queue for one reader: a producer
 * pushes items when it has them, the reader takes them in order with
 * `for await`. It never refuses an item, but each item has a size and the
 * queue tells its producer when it holds more than `limit` (`full`,
 * `whenSpace`) so the producer can pace itself. It ends in one of two
 * ways: `end` after what it holds is read, or `fail`, which drops what it
 * holds at once. Either may carry an error for the reader.
 *
 * Unlike connect-es's `createWritableIterable`, whose `write` resolves
 * only once the reader took the value, a push here returns at once: the
 * producer decides whether and how to wait (a count, a byte budget, or not
 * at all when the reader keeps up by construction).
 */
export class AsyncQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private items: Array<T | undefined> = [];
  private sizes: number[] = [];
  private head = 0;
  private size = 0;
  private done: { error?: unknown } | undefined;
  /** The reader's `next` waiting for an item. */
  private reader: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  /** Set once the reader got the end (or its error), or gave up. */
  private finished = false;
  private spaceWaiters: Array<() => void> | undefined;

  /**
   * @param limit the most the queue holds before it is `full`, in the units
   * of the sizes given to `push` (one per item by default); unbounded
   * unless given.
   */
  constructor(readonly limit = Infinity) {}

  /** held is the sum of the sizes of the items waiting to be read. */
  get held(): number {
    return this.size;
  }

  /** full tells whether the queue holds more than its limit. */
  get full(): boolean {
    return this.size > this.limit;
  }

  /** closed tells whether the queue takes no more items. */
  get closed(): boolean {
    return this.done !== undefined;
  }

  /** push adds an item of the given size; after `end` or `fail` it is dropped. */
  push(item: T, size = 1): void {
    if (this.done !== undefined) return;
    this.items.push(item);
    this.sizes.push(size);
    this.size += size;
    this.settleReader();
  }

  /**
   * whenSpace resolves once the queue is at or below its limit, or closed.
   */
  whenSpace(): Promise<void> {
    if (!this.full || this.done !== undefined) return Promise.resolve();
    return new Promise((resolve) => (this.spaceWaiters ??= []).push(resolve));
  }

  /**
   * end closes the queue after the items it holds are read; the reader
   * then gets `error` if one is given. Only the first end (or fail) counts.
   */
  end(error?: unknown): void {
    if (this.done !== undefined) return;
    this.done = error === undefined ? {} : { error };
    this.settleReader();
    this.releaseWaiters();
  }

  /**
   * fail drops every waiting item and closes the queue with `error`, even
   * after an `end` whose items are not all read yet.
   */
  fail(error: unknown): void {
    if (this.done !== undefined && this.head >= this.items.length) return;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.size = 0;
    this.done = { error };
    this.settleReader();
    this.releaseWaiters();
  }

  // The queue is its own iterator, for its one reader: an iterator object
  // rather than an async generator, because an idle stream's queue waits
  // for its next item for as long as the stream is open, and a suspended
  // generator holds its frame, its request queue and a promise besides.
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }

  /** next resolves to the next item, waiting for one; then to the end, or rejects with the queue's error once. */
  next(): Promise<IteratorResult<T>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    if (this.head < this.items.length) return Promise.resolve({ done: false, value: this.take() });
    if (this.done !== undefined) return new Promise((resolve, reject) => this.settle(resolve, reject));
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  /** return is the reader giving up: its waiting `next` and every later one see the end. */
  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.settleReader();
    return Promise.resolve({ done: true, value: undefined });
  }

  /**
   * throw is the reader giving up with an error, as an async generator's
   * `throw` does (Connect's client requires it of a request iterable): the
   * queue reads as ended from then on, and the error comes back.
   */
  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.finished = true;
    this.settleReader();
    return Promise.reject(error);
  }

  /** settleReader answers the reader's waiting `next`, if any, now that there is something to answer. */
  private settleReader(): void {
    const reader = this.reader;
    if (reader === undefined) return;
    this.reader = undefined;
    this.settle(reader.resolve, reader.reject);
  }

  private settle(resolve: (r: IteratorResult<T>) => void, reject: (e: unknown) => void): void {
    if (this.finished) {
      resolve({ done: true, value: undefined });
      return;
    }
    if (this.head < this.items.length) {
      resolve({ done: false, value: this.take() });
      return;
    }
    this.finished = true;
    const error = this.done?.error;
    if (error !== undefined) reject(error);
    else resolve({ done: true, value: undefined });
  }

  /** take removes the oldest item; there is one. */
  private take(): T {
    const item = this.items[this.head] as T;
    // Drop the reference at once: a read item must not stay in memory.
    this.items[this.head] = undefined;
    this.size -= this.sizes[this.head] as number;
    this.head++;
    // Compact now and then instead of shifting on every read.
    if (this.head >= 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    if (!this.full) this.releaseWaiters();
    return item;
  }

  private releaseWaiters(): void {
    const waiters = this.spaceWaiters;
    if (waiters === undefined) return;
    this.spaceWaiters = undefined;
    for (const resolve of waiters) resolve();
  }
}
