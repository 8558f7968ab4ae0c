import type { TurnTiming } from "./clients.js";

/**
 * LoadOptions shape a closed-loop load: `concurrency` virtual users, each
 * running turns back to back.
 */
export interface LoadOptions {
  concurrency: number;
  /** Time to run before measuring (connections, JIT, caches). */
  warmupMs: number;
  /** Time measured. */
  durationMs: number;
  /** Runs one turn of virtual user `vu`, its `n`-th. */
  turn: (vu: number, n: number) => Promise<TurnTiming>;
  /** Called when the warm-up is over and measuring starts. */
  onMeasureStart?: () => void;
}

/**
 * LoadResult is what a load measured: latencies and first-delta times of
 * the turns that finished in the measured window (however long they took).
 */
export interface LoadResult {
  latencies: number[];
  ttfds: number[];
  errors: number;
  firstError?: string;
  /** Turns per second over the measured window. */
  throughput: number;
  measuredMs: number;
}

/**
 * runLoad runs a closed-loop load and measures it.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const ttfds: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupMs;
  // A system slower than the window still gets measured: the window
  // stretches (up to a minute) until one turn finished in it.
  let stopAt = measureFrom + opts.durationMs;
  const hardStop = stopAt + 60_000;
  let completed = 0;
  const timer = setTimeout(() => opts.onMeasureStart?.(), opts.warmupMs);
  const user = async (vu: number) => {
    for (let n = 0; performance.now() < (completed === 0 && errors === 0 ? hardStop : stopAt); n++) {
      const start = performance.now();
      try {
        const timing = await opts.turn(vu, n);
        const end = performance.now();
        if (end >= measureFrom && completed === 0 && end > stopAt) stopAt = end;
        if (end >= measureFrom && end <= stopAt) {
          latencies.push(end - start);
          if (timing.ttfd !== undefined) ttfds.push(timing.ttfd);
        }
        if (end >= measureFrom && end <= stopAt) completed++;
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        // A failing system must not turn the loop into a busy spin.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, vu) => user(vu)));
  clearTimeout(timer);
  return {
    latencies,
    ttfds,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    throughput: completed / ((stopAt - measureFrom) / 1000),
    measuredMs: stopAt - measureFrom,
  };
}
