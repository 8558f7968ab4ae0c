/**
 * LoopDelay tells how late this process's own event loop runs. Every
 * judgement of an agent by a timeout (a keepalive PING, a health check, a
 * call's deadline) asks it first: a timeout that fired while the loop was
 * stalled says "I was late", not "they are dead".
 */
export interface LoopDelay {
  /**
   * stalledSince tells whether the event loop stalled beyond the stall
   * threshold at any moment from `since` (performance.now() time) until
   * now, a stall still going on included.
   */
  stalledSince(since: number): boolean;
  /** delayMs is the event loop's recent delay, smoothed, in ms. */
  delayMs(): number;
}

/**
 * LoopDelayOptions configure a LoopDelayMonitor.
 */
export interface LoopDelayOptions {
  /** How often the loop's lateness is sampled. Default 100ms. */
  sampleMs: number;
  /** A sample this late, or later, is a stall. Default 500ms. */
  stallMs: number;
  /** The clock; performance.now by default. */
  now: () => number;
}

/**
 * defaultLoopDelayOptions are the monitor's settings when none are given.
 */
export const defaultLoopDelayOptions: LoopDelayOptions = { sampleMs: 100, stallMs: 500, now: () => performance.now() };

/**
 * LoopDelayMonitor measures the event loop's delay with a timer that
 * checks its own drift: a timer due every `sampleMs` that fires late by
 * more than `stallMs` saw a stall (a long synchronous task, a GC pause, a
 * CPU oversubscribed or the whole process stopped) end when it fired. It
 * costs one unreferenced timer per process, whoever asks. Unlike
 * `monitorEventLoopDelay`'s histogram it can say *when* a stall happened,
 * which is what a judge of one timeout needs.
 */
export class LoopDelayMonitor implements LoopDelay {
  private readonly o: LoopDelayOptions;
  private timer: NodeJS.Timeout | undefined;
  /** When the last sample was due. */
  private dueAt: number;
  /** When the last stall ended (a late sample fired); -Infinity before any. */
  private stallEndedAt = -Infinity;
  private smoothedMs = 0;

  constructor(opts: Partial<LoopDelayOptions> = {}) {
    this.o = { ...defaultLoopDelayOptions, ...opts };
    this.dueAt = this.o.now();
  }

  /** start samples from now on, until stop; the timer holds no process open. */
  start(): this {
    if (this.timer !== undefined) return this;
    this.dueAt = this.o.now() + this.o.sampleMs;
    this.timer = setInterval(() => this.sample(), this.o.sampleMs);
    this.timer.unref();
    return this;
  }

  /** stop ends the sampling. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * sample records one tick of the sampling timer: how late it fired. The
   * timer calls it; specs call it to play a loop's ticks.
   */
  sample(): void {
    const now = this.o.now();
    const lateMs = Math.max(0, now - this.dueAt);
    if (lateMs >= this.o.stallMs) this.stallEndedAt = now;
    // Smoothed, so one slow tick does not swing admission decisions.
    this.smoothedMs = this.smoothedMs * 0.7 + lateMs * 0.3;
    this.dueAt = now + this.o.sampleMs;
  }

  stalledSince(since: number): boolean {
    // A stall still going on: the sampling timer is overdue itself (a
    // judge's timer may fire before it in the same turn of the loop).
    return this.stallEndedAt >= since || this.overdueMs() >= this.o.stallMs;
  }

  delayMs(): number {
    return Math.max(this.smoothedMs, this.overdueMs());
  }

  private overdueMs(): number {
    return Math.max(0, this.o.now() - this.dueAt);
  }
}

let shared: LoopDelayMonitor | undefined;

/**
 * processLoopDelay is the one LoopDelayMonitor of this process, started on
 * first use and shared by every judge.
 */
export function processLoopDelay(): LoopDelay {
  return (shared ??= new LoopDelayMonitor().start());
}
