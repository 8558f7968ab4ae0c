import { GuardMetric, type Rollout, type RolloutGuard, type VersionStats } from "../gen/switchboard/v1/rollout_pb.js";
import type { Rate } from "../gen/switchboard/v1/rollout_pb.js";
import { compareVersions } from "./flow.js";

/**
 * GuardCut is a guard's verdict that a candidate version must go to zero.
 */
export interface GuardCut {
  /** The version cut. */
  version: string;
  /** The version its weight goes to. */
  baseline: string;
  /** The rates compared, for the audit trail and the log. */
  reason: string;
}

/**
 * guardMetricName names a guard's metric as the command line writes it.
 */
export function guardMetricName(metric: GuardMetric): string {
  return metric === GuardMetric.HAND_OFF_RATE ? "hand-off" : metric === GuardMetric.FAILED_TURN_RATE ? "failed-turns" : "unspecified";
}

/**
 * baselineOf is a rollout's baseline: the version with the largest
 * weight, the older one on a tie (a 50/50 split keeps the old version as
 * the reference).
 */
export function baselineOf(rollout: Rollout): string | undefined {
  let best: { version: string; weight: number } | undefined;
  for (const w of rollout.weights) {
    if (best === undefined || w.weight > best.weight || (w.weight === best.weight && compareVersions(w.version, best.version) < 0)) best = w;
  }
  return best?.version;
}

function rateFor(guard: RolloutGuard, s: VersionStats): Rate | undefined {
  return guard.metric === GuardMetric.HAND_OFF_RATE ? s.handOff : guard.metric === GuardMetric.FAILED_TURN_RATE ? s.failedTurns : undefined;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * judge applies a rollout's guard to the outcomes per version. A candidate
 * (any weighted version but the baseline) is cut when both it and the
 * baseline have at least `min_sessions` sessions and the low end of the
 * candidate's 95 % interval lies more than `margin` above the high end of
 * the baseline's: it is worse by more than the margin however the noise
 * falls, so a guard does not cut on a run of bad luck. One cut at a time,
 * the worst first.
 */
export function judge(rollout: Rollout, stats: readonly VersionStats[]): GuardCut | undefined {
  const guard = rollout.guard;
  if (guard === undefined || guard.metric === GuardMetric.UNSPECIFIED) return undefined;
  const baseline = baselineOf(rollout);
  const base = stats.find((s) => s.version === baseline);
  if (baseline === undefined || base === undefined || base.started < BigInt(guard.minSessions)) return undefined;
  const baseRate = rateFor(guard, base);
  if (baseRate === undefined) return undefined;
  let worst: { cut: GuardCut; gap: number } | undefined;
  for (const w of rollout.weights) {
    if (w.version === baseline || w.weight === 0) continue;
    const s = stats.find((x) => x.version === w.version);
    const rate = s && rateFor(guard, s);
    if (s === undefined || rate === undefined || s.started < BigInt(guard.minSessions)) continue;
    const gap = rate.low - baseRate.high;
    if (gap > guard.margin && (worst === undefined || gap > worst.gap)) {
      const name = guardMetricName(guard.metric);
      worst = {
        gap,
        cut: {
          version: w.version,
          baseline,
          reason:
            `${name} rate of version ${w.version} ${pct(rate.value)} [${pct(rate.low)}, ${pct(rate.high)}] over ${s.started} sessions ` +
            `vs version ${baseline} ${pct(baseRate.value)} [${pct(baseRate.low)}, ${pct(baseRate.high)}] over ${base.started}: ` +
            `worse by more than the margin of ${pct(guard.margin)}`,
        },
      };
    }
  }
  return worst?.cut;
}

/**
 * weightsAfterCut is a rollout's weights after a cut: the cut version at zero,
 * its weight added to the baseline's.
 */
export function weightsAfterCut(rollout: Rollout, cut: GuardCut): Array<{ version: string; weight: number }> {
  const moved = rollout.weights.find((w) => w.version === cut.version)?.weight ?? 0;
  return rollout.weights.map((w) => ({
    version: w.version,
    weight: w.version === cut.version ? 0 : w.version === cut.baseline ? w.weight + moved : w.weight,
  }));
}
