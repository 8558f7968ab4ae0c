import { type LoopDelay, processLoopDelay } from "./loop-delay.js";

/**
 * HealthCheckOptions configure the health checks of agent instances.
 */
export interface HealthCheckOptions {
  /** How often a reachable instance is checked. Default 5s. */
  intervalMs: number;
  /** How long one check may take. Default 2s. */
  timeoutMs: number;
  /** The first wait before reconnecting to an unreachable instance. Default 1s. */
  reconnectInitialMs: number;
  /** The longest wait between reconnection attempts. Default 30s. */
  reconnectMaxMs: number;
}

/**
 * defaultHealthCheckOptions are the health-check settings when none are configured.
 */
export const defaultHealthCheckOptions: HealthCheckOptions = {
  intervalMs: 5000,
  timeoutMs: 2000,
  reconnectInitialMs: 1000,
  reconnectMaxMs: 30_000,
};

/**
 * HealthVerdict is the outcome of one health check: "timed_out" is a check
 * that got no answer within its timeout, which the checker judges against
 * this process's own event-loop delay before believing it.
 */
export type HealthVerdict = "serving" | "not_serving" | "unreachable" | "timed_out";

/**
 * InstanceHealthState is an instance's health as the mesh sees it.
 */
export type InstanceHealthState = "unknown" | "serving" | "not_serving";

interface Watched {
  state: InstanceHealthState;
  /** Reconnection attempts that failed in a row. */
  failures: number;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
}

/**
 * HealthChecker checks every watched instance with the gRPC health protocol
 * (`probe`), at a steady interval while it is reachable and with
 * exponential backoff and jitter while it is not (which paces reconnection
 * attempts). Call outcomes feed it too: a connection failure marks the
 * instance NOT_SERVING at once, a successful call marks it SERVING.
 * A check that timed out while this process's event loop stalled says
 * nothing about the instance: it changes nothing and is tried again soon;
 * only a timeout with the loop healthy counts as unreachable.
 */
export class HealthChecker {
  private readonly watched = new Map<string, Watched>();
  private stopped = false;

  constructor(
    private readonly o: HealthCheckOptions,
    private readonly probe: (id: string) => Promise<HealthVerdict>,
    private readonly random: () => number = Math.random,
    private readonly onChange: (id: string, state: InstanceHealthState) => void = () => {},
    private readonly loop: LoopDelay = processLoopDelay(),
  ) {}

  /** watch starts checking an instance, with a first check at once. */
  watch(id: string): void {
    if (this.watched.has(id) || this.stopped) return;
    const w: Watched = { state: "unknown", failures: 0, timer: undefined, running: false };
    this.watched.set(id, w);
    this.schedule(id, w, 0);
  }

  /** unwatch stops checking an instance. */
  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.watched.delete(id);
  }

  /** state is an instance's health. */
  state(id: string): InstanceHealthState {
    return this.watched.get(id)?.state ?? "unknown";
  }

  /** reportSuccess records a call the instance served. */
  reportSuccess(id: string): void {
    const w = this.watched.get(id);
    if (w === undefined || w.state === "serving") return;
    this.set(id, w, "serving");
    w.failures = 0;
    this.schedule(id, w, this.o.intervalMs);
  }

  /** reportUnreachable records a call that could not reach the instance. */
  reportUnreachable(id: string): void {
    const w = this.watched.get(id);
    if (w === undefined || w.state === "not_serving") return;
    this.set(id, w, "not_serving");
    w.failures = Math.max(1, w.failures);
    this.schedule(id, w, this.backoff(w.failures));
  }

  /** stop ends every check. */
  stop(): void {
    this.stopped = true;
    for (const w of this.watched.values()) clearTimeout(w.timer);
    this.watched.clear();
  }

  private schedule(id: string, w: Watched, delayMs: number): void {
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void this.check(id, w), delayMs);
    w.timer.unref();
  }

  private async check(id: string, w: Watched): Promise<void> {
    if (w.running) return;
    w.running = true;
    const sentAt = performance.now();
    let verdict: HealthVerdict;
    try {
      verdict = await this.probe(id);
    } catch {
      verdict = "unreachable";
    } finally {
      w.running = false;
    }
    if (this.watched.get(id) !== w) return;
    if (verdict === "timed_out" && this.loop.stalledSince(sentAt)) {
      // I was late, not they: the answer may be unread in the socket.
      this.schedule(id, w, Math.min(this.o.reconnectInitialMs, this.o.intervalMs));
      return;
    }
    if (verdict === "unreachable" || verdict === "timed_out") {
      this.set(id, w, "not_serving");
      w.failures++;
      this.schedule(id, w, this.backoff(w.failures));
    } else {
      this.set(id, w, verdict);
      w.failures = 0;
      this.schedule(id, w, this.o.intervalMs);
    }
  }

  private set(id: string, w: Watched, state: InstanceHealthState): void {
    if (w.state === state) return;
    w.state = state;
    this.onChange(id, state);
  }

  /** backoff is the wait before reconnection attempt `n` (from 1), ±20% jitter. */
  private backoff(n: number): number {
    const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectInitialMs * 1.6 ** (n - 1));
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }
}
