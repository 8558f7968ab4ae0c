/**
 * BulkheadRejection tells why a bulkhead refused a call.
 */
export type BulkheadRejection = "full" | "aborted";

/**
 * BulkheadError is thrown by Bulkhead.acquire when it refuses a call.
 */
export class BulkheadError extends Error {
  constructor(readonly reason: BulkheadRejection) {
    super(reason === "full" ? "bulkhead full" : "aborted while waiting for a bulkhead slot");
  }
}

/**
 * Bulkhead limits concurrent calls: at most `maxConcurrent` run, at most
 * `maxQueued` wait for a slot in arrival order, and the rest are refused at
 * once. A waiting call leaves the queue as soon as its signal aborts (its
 * deadline passed or its caller gave up), so an abandoned call never holds a
 * place. (cockatiel's BulkheadPolicy keeps aborted calls queued until a slot
 * frees up, which is why the mesh has its own.)
 */
export class Bulkhead {
  private active = 0;
  private readonly waiting: Array<{ grant: () => void }> = [];

  constructor(readonly maxConcurrent: number, readonly maxQueued: number) {}

  /** running is the number of calls holding a slot. */
  get running(): number {
    return this.active;
  }

  /** queued is the number of calls waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * tryAcquire takes a free slot at once, returning the function that
   * releases it, or undefined when none is free (then only acquire waits).
   */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.maxConcurrent) return undefined;
    this.active++;
    return this.releaser();
  }

  /**
   * acquire resolves with the function that releases the slot once the call
   * may run, or throws BulkheadError ("full" or "aborted").
   */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new BulkheadError("aborted"));
    if (this.active < this.maxConcurrent) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueued) return Promise.reject(new BulkheadError("full"));
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new BulkheadError("aborted"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiting call.
      if (next !== undefined) next.grant();
      else this.active--;
    };
  }
}
