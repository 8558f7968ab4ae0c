/** smoothing is the weight of a new sample below the current average. */
const smoothing = 0.3;

/**
 * LatencyStats track an instance's recent latency two ways: a peak-sensitive
 * moving average that decays with time (the load-balancing cost, as in
 * Finagle's and Linkerd's peak EWMA), and a window of recent samples for the
 * median that operators see.
 */
export class LatencyStats {
  private ewma = 0;
  private stamp = 0;
  private readonly window: number[] = [];
  private next = 0;

  /**
   * @param decayMs how fast an idle instance's cost decays towards zero
   *   (to 1/e in this time), so an instance that was slow or failing once is
   *   tried again later.
   * @param windowSize how many recent samples the median looks at.
   */
  constructor(private readonly decayMs = 10_000, private readonly windowSize = 64) {}

  /**
   * observe records one call's latency. `costMs`, when higher, is what the
   * call counts for in the cost: a failed call is charged a penalty, so an
   * instance that fails fast does not attract traffic.
   */
  observe(ms: number, now: number, costMs = ms): void {
    const current = this.cost(now);
    const sample = Math.max(ms, costMs);
    // A slower sample takes over at once (peak); faster ones pull the
    // average down by a fixed share each.
    this.ewma = sample > current ? sample : current + smoothing * (sample - current);
    this.stamp = now;
    if (this.window.length < this.windowSize) this.window.push(ms);
    else this.window[this.next] = ms;
    this.next = (this.next + 1) % this.windowSize;
  }

  /**
   * cost is the decayed moving average at `now`, in ms; 0 for an instance
   * with no samples yet, so new instances are tried soon.
   */
  cost(now: number): number {
    if (this.ewma === 0) return 0;
    return this.ewma * Math.exp(-Math.max(0, now - this.stamp) / this.decayMs);
  }

  /**
   * median of the recent samples, or undefined before the first.
   */
  median(): number | undefined {
    if (this.window.length === 0) return undefined;
    const sorted = [...this.window].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }
}
