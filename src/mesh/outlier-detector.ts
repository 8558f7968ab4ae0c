/**
 * OutlierOptions configure outlier ejection.
 */
export interface OutlierOptions {
  /** How often outcomes are evaluated. Default 10s. */
  intervalMs: number;
  /** The failure percentage in one interval at which an instance is ejected. Default 50. */
  failurePercentage: number;
  /** Calls an instance needs in an interval to be judged. Default 10. */
  minimumRequests: number;
  /** Instances with enough calls needed before any is judged. Default 2. */
  minimumHosts: number;
  /** The first ejection's length; each repeated ejection is longer by as much. Default 30s. */
  baseEjectionMs: number;
  /** The longest ejection. Default 5 minutes. */
  maxEjectionMs: number;
  /** The largest share of an agent's instances ejected at once. Default 50. */
  maxEjectionPercent: number;
}

/**
 * defaultOutlierOptions are the outlier-ejection settings when none are configured.
 */
export const defaultOutlierOptions: OutlierOptions = {
  intervalMs: 10_000,
  failurePercentage: 50,
  minimumRequests: 10,
  minimumHosts: 2,
  baseEjectionMs: 30_000,
  maxEjectionMs: 5 * 60_000,
  maxEjectionPercent: 50,
};

interface Stats {
  ok: number;
  failed: number;
  /** Ejections so far, decaying by one each interval spent not ejected. */
  ejections: number;
  /** When the current ejection ends; 0 when not ejected. */
  ejectedUntil: number;
}

/**
 * OutlierDetector ejects the instances of one agent whose share of failed
 * calls stands out, for a while, as gRPC's failure-percentage outlier
 * detection does. Where the breaker reacts to failures in a row, ejection
 * catches instances that fail often but not every time; and it never ejects
 * more than `maxEjectionPercent` of the instances.
 */
export class OutlierDetector {
  private readonly stats = new Map<string, Stats>();

  constructor(private readonly o: OutlierOptions = defaultOutlierOptions) {}

  /** record counts one call's outcome. */
  record(id: string, ok: boolean): void {
    const s = this.entry(id);
    if (ok) s.ok++;
    else s.failed++;
  }

  /** isEjected tells whether an instance is ejected at `now`. */
  isEjected(id: string, now: number): boolean {
    return this.ejectedUntil(id) > now;
  }

  /**
   * ejectedUntil is when an instance's ejection ends (ms since the epoch);
   * at or before now when it is not ejected.
   */
  ejectedUntil(id: string): number {
    return this.stats.get(id)?.ejectedUntil ?? 0;
  }

  /** forget drops an instance that left. */
  forget(id: string): void {
    this.stats.delete(id);
  }

  /**
   * evaluate judges the interval that just ended for the instances of one
   * agent, ejects the outliers and returns their ids.
   */
  evaluate(ids: readonly string[], now: number): string[] {
    const entries = ids.map((id) => [id, this.entry(id)] as const);
    for (const [, s] of entries) {
      // An interval that ends an ejection does not count towards forgiving it.
      if (s.ejectedUntil !== 0 && s.ejectedUntil <= now) s.ejectedUntil = 0;
      else if (s.ejectedUntil === 0 && s.ejections > 0) s.ejections--;
    }
    const judged = entries.filter(([, s]) => s.ok + s.failed >= this.o.minimumRequests);
    const ejected: string[] = [];
    if (judged.length >= this.o.minimumHosts) {
      let out = entries.filter(([, s]) => s.ejectedUntil > now).length;
      for (const [id, s] of judged) {
        if (s.ejectedUntil > now) continue;
        if (((out + 1) * 100) / entries.length > this.o.maxEjectionPercent) break;
        if ((s.failed * 100) / (s.ok + s.failed) < this.o.failurePercentage) continue;
        s.ejections++;
        s.ejectedUntil = now + Math.min(this.o.baseEjectionMs * s.ejections, Math.max(this.o.baseEjectionMs, this.o.maxEjectionMs));
        out++;
        ejected.push(id);
      }
    }
    for (const [, s] of entries) {
      s.ok = 0;
      s.failed = 0;
    }
    return ejected;
  }

  private entry(id: string): Stats {
    let s = this.stats.get(id);
    if (s === undefined) {
      s = { ok: 0, failed: 0, ejections: 0, ejectedUntil: 0 };
      this.stats.set(id, s);
    }
    return s;
  }
}
