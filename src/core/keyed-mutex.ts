import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Patience bounds how long a task waits for its turn: until the caller's
 * deadline (ms since epoch) or until its signal aborts.
 */
export interface Patience {
  deadline?: number | undefined;
  signal?: AbortSignal | undefined;
}

interface Waiter {
  start: () => void;
}

/** holder stands for the running task at the head of a key's queue. */
const holder: Waiter = { start: () => {} };

/**
 * KeyedMutex runs tasks one at a time per key, in arrival order, and keeps
 * no memory for keys with nothing queued. A task whose caller's deadline
 * passes, or whose caller gives up, while it waits leaves the queue at once
 * without running: the work of a caller that is gone never piles up.
 */
export class KeyedMutex {
  /** The waiters of each key that holds the lock; the first one runs. */
  private readonly queues = new Map<string, Waiter[]>();

  /**
   * run runs `task` once every earlier task with the same key has settled.
   * It throws DEADLINE_EXCEEDED (or CANCELED) without running `task` when
   * the wait outlasts `patience`.
   */
  async run<T>(key: string, task: () => Promise<T>, patience: Patience = {}): Promise<T> {
    const queue = this.queues.get(key);
    if (queue === undefined) {
      this.queues.set(key, [holder]);
    } else {
      await this.wait(queue, patience);
    }
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }

  private wait(queue: Waiter[], patience: Patience): Promise<void> {
    const { deadline, signal } = patience;
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: ConnectError) => {
        const at = queue.indexOf(waiter);
        if (at > 0) queue.splice(at, 1);
        cleanup();
        reject(err);
      };
      // The server aborts a call whose deadline passed: that is a deadline, not a cancel.
      const onAbort = () =>
        leave(
          ConnectError.from(signal?.reason).code === Code.DeadlineExceeded
            ? waitedPastDeadline()
            : new ConnectError("the turn was cancelled while it waited for the session", Code.Canceled),
        );
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        start: () => {
          cleanup();
          resolve();
        },
      };
      if (signal?.aborted === true) return onAbort();
      if (deadline !== undefined) {
        const left = deadline - Date.now();
        if (left <= 0) return leave(waitedPastDeadline());
        timer = setTimeout(() => leave(waitedPastDeadline()), left);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }

  private release(key: string): void {
    const queue = this.queues.get(key);
    if (queue === undefined) return;
    queue.shift();
    const next = queue[0];
    if (next === undefined) this.queues.delete(key);
    else next.start();
  }
}

function waitedPastDeadline(): ConnectError {
  return new ConnectError("the turn's deadline passed while it waited for the session's previous turn", Code.DeadlineExceeded);
}
