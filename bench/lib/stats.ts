/**
 * Summary is what a set of latency samples comes down to, in milliseconds.
 */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

/**
 * summarize returns percentiles (nearest rank) of samples in milliseconds.
 */
export function summarize(samples: number[]): Summary {
  if (samples.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, mean: NaN, max: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    mean: sum / sorted.length,
    max: sorted[sorted.length - 1] as number,
  };
}

/** round keeps a figure readable: 3 significant digits, at most 3 decimals. */
export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const digits = Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(Math.abs(v) || 1))));
  return Number(v.toFixed(digits));
}
