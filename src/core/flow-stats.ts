import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Rate, RateSchema, type VersionStats, VersionStatsSchema } from "../gen/switchboard/v1/rollout_pb.js";
import { compareVersions } from "./flow.js";

/**
 * OutcomeQuery asks a store for a flow's outcomes per version.
 */
export interface OutcomeQuery {
  flowId: string;
  /** Count sessions created at or after this time; all when undefined. */
  since: Date | undefined;
  /** The stages that make a session a hand-off (the flow's declaration). */
  handOffStages: readonly string[];
  /** When set, a contained session must have entered one of these. */
  containedStages: readonly string[];
}

/**
 * VersionCounts are the raw counts of one flow version's sessions, as a
 * store computes them.
 */
export interface VersionCounts {
  version: string;
  started: number;
  completed: number;
  failed: number;
  handedOff: number;
  contained: number;
  /** Committed turns. */
  turns: number;
  /** Turns that failed and committed nothing. */
  failedTurns: number;
  /** Committed turns the caller barged in on. */
  bargeIns: number;
  /** The median duration of the sessions that ended; undefined when none did. */
  medianDurationMs: number | undefined;
}

/**
 * FlowStatsSource is a session store that can count outcomes per flow
 * version where the sessions are, so the work grows with the data in the
 * database and not in the orchestrator.
 */
export interface FlowStatsSource {
  flowStats(query: OutcomeQuery): Promise<VersionCounts[]>;
}

/**
 * hasFlowStats tells whether a store can count outcomes.
 */
export function hasFlowStats(store: object): store is FlowStatsSource {
  return typeof (store as Partial<FlowStatsSource>).flowStats === "function";
}

/**
 * wilsonZ is the normal quantile of a two-sided 95 % interval.
 */
const wilsonZ = 1.959964;

/**
 * wilson is the 95 % Wilson score interval of `count` successes in
 * `total` trials. Unlike the normal approximation it stays inside [0, 1]
 * and is honest at rates near 0 (a new version with no failures yet) and
 * with few trials; with none it is the whole of [0, 1].
 */
export function wilson(count: number, total: number): { low: number; high: number } {
  if (total <= 0) return { low: 0, high: 1 };
  const p = count / total;
  const z2 = wilsonZ * wilsonZ;
  const denom = 1 + z2 / total;
  const centre = (p + z2 / (2 * total)) / denom;
  const half = (wilsonZ * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total))) / denom;
  // At the edges the interval ends exactly at 0 or 1 (not a rounding away).
  return { low: count <= 0 ? 0 : Math.max(0, centre - half), high: count >= total ? 1 : Math.min(1, centre + half) };
}

/**
 * rateOf is a proportion with its Wilson interval.
 */
export function rateOf(count: number, total: number): Rate {
  const { low, high } = wilson(count, total);
  return create(RateSchema, { count: BigInt(count), total: BigInt(total), value: total > 0 ? count / total : 0, low, high });
}

/**
 * versionStatsOf turns a version's counts into its reported outcomes.
 */
export function versionStatsOf(c: VersionCounts): VersionStats {
  return create(VersionStatsSchema, {
    version: c.version,
    started: BigInt(c.started),
    completed: BigInt(c.completed),
    failed: BigInt(c.failed),
    unfinished: BigInt(Math.max(0, c.started - c.completed - c.failed)),
    handOff: rateOf(c.handedOff, c.started),
    containment: rateOf(c.contained, c.started),
    failedTurns: rateOf(c.failedTurns, c.turns + c.failedTurns),
    // An interrupted turn is counted as a turn; the max keeps the rate a
    // proportion for sessions written before barge-ins were counted.
    bargeIn: rateOf(c.bargeIns, Math.max(c.turns, c.bargeIns)),
    turns: BigInt(c.turns),
    turnsPerSession: c.started > 0 ? c.turns / c.started : 0,
    ...(c.medianDurationMs !== undefined ? { medianDuration: durationFromMs(Math.round(c.medianDurationMs)) } : {}),
  });
}

/**
 * sortedCounts orders counts by version, newest first.
 */
export function sortedCounts(counts: VersionCounts[]): VersionCounts[] {
  return [...counts].sort((a, b) => compareVersions(b.version, a.version));
}

/**
 * emptyCounts are a version's counts before any session.
 */
export function emptyCounts(version: string): VersionCounts {
  return { version, started: 0, completed: 0, failed: 0, handedOff: 0, contained: 0, turns: 0, failedTurns: 0, bargeIns: 0, medianDurationMs: undefined };
}

/**
 * median is the middle of sorted numbers (the mean of the two middle
 * ones for an even count); undefined for none.
 */
export function median(sorted: readonly number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const mid = Math.floor((sorted.length - 1) / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid] as number) + (sorted[mid + 1] as number)) / 2;
}

/**
 * rateDifference is the difference of two rates (a − b) with its 95 %
 * interval by Newcombe's hybrid score method (built from the two Wilson
 * intervals): when the interval holds 0, the difference may be noise.
 */
export function rateDifference(a: Rate, b: Rate): { value: number; low: number; high: number } {
  const d = a.value - b.value;
  return {
    value: d,
    low: d - Math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2),
    high: d + Math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2),
  };
}
