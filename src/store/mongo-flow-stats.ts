import type { Collection, Document } from "mongodb";
import { emptyCounts, median, type OutcomeQuery, type VersionCounts } from "../core/flow-stats.js";
import { guard } from "./mongo-errors.js";
import type { HeadDoc } from "./mongo-session-docs.js";

/**
 * countFields are the head fields summed per version, each into a
 * VersionCounts field.
 */
const summed = [
  ["turns", "turns"],
  ["failedTurns", "failedTurns"],
  ["bargeIns", "bargeIns"],
] as const;

/**
 * flowStatsPipelines are the aggregation pipelines that count a flow's
 * outcomes per version over the session heads: `$match` on the flow (and
 * the window, and the outcome), then `$group` by version. Each `$group`
 * has one accumulator: FerretDB 1.24 computes only the first accumulator
 * of a `$group` (the others come back 0), and has no `$cond`, `$facet` or
 * `$subtract`, so an outcome is chosen by `$match`, not by an expression,
 * and durations are kept on the head rather than computed. The
 * `flow_created` index serves every `$match`.
 */
export function flowStatsPipelines(q: OutcomeQuery): Record<string, Document[]> {
  const base: Document = { flowId: q.flowId, flowVersion: { $exists: true }, ...(q.since ? { createdAt: { $gte: q.since } } : {}) };
  const count = (match: Document): Document[] => [{ $match: { ...base, ...match } }, { $group: { _id: "$flowVersion", n: { $sum: 1 } } }];
  const handOff = q.handOffStages.length > 0 ? [...q.handOffStages] : undefined;
  const contained: Document = {
    status: "COMPLETED",
    ...(handOff || q.containedStages.length > 0
      ? { stages: { ...(handOff ? { $nin: handOff } : {}), ...(q.containedStages.length > 0 ? { $in: [...q.containedStages] } : {}) } }
      : {}),
  };
  const pipelines: Record<string, Document[]> = {
    started: count({}),
    completed: count({ status: "COMPLETED" }),
    failed: count({ status: "FAILED" }),
    contained: count(contained),
    ...(handOff ? { handedOff: count({ stages: { $in: handOff } }) } : {}),
  };
  for (const [field, into] of summed) {
    pipelines[into] = [{ $match: base }, { $group: { _id: "$flowVersion", n: { $sum: `$${field}` } } }];
  }
  return pipelines;
}

/**
 * medianPipeline finds the middle durations of one version's ended
 * sessions: sorted by duration, skip to the middle, take one or two
 * (their mean is the median for an even count). The database sorts; the
 * orchestrator reads at most two documents. ($median and $percentile
 * need MongoDB 7 and are not in FerretDB.)
 */
export function medianPipeline(q: OutcomeQuery, version: string, ended: number): Document[] {
  return [
    { $match: { flowId: q.flowId, flowVersion: version, status: { $in: ["COMPLETED", "FAILED"] }, ...(q.since ? { createdAt: { $gte: q.since } } : {}) } },
    { $sort: { durationMs: 1, _id: 1 } },
    { $skip: Math.floor((ended - 1) / 2) },
    { $limit: ended % 2 === 1 ? 1 : 2 },
    { $project: { _id: 0, durationMs: 1 } },
  ];
}

/**
 * flowStatsOf counts a flow's outcomes per version in the database.
 */
export async function flowStatsOf(heads: Collection<HeadDoc>, q: OutcomeQuery): Promise<VersionCounts[]> {
  return guard("computing the flow's outcomes", async () => {
    const byVersion = new Map<string, VersionCounts>();
    for (const [field, pipeline] of Object.entries(flowStatsPipelines(q))) {
      const rows = await heads.aggregate<{ _id: unknown; n: number }>(pipeline).toArray();
      for (const row of rows) {
        if (typeof row._id !== "string") continue;
        const c = byVersion.get(row._id) ?? emptyCounts(row._id);
        (c as unknown as Record<string, number>)[field] = Number(row.n);
        byVersion.set(row._id, c);
      }
    }
    for (const c of byVersion.values()) {
      const ended = c.completed + c.failed;
      if (ended === 0) continue;
      const rows = await heads.aggregate<{ durationMs?: number }>(medianPipeline(q, c.version, ended)).toArray();
      c.medianDurationMs = median(rows.map((r) => r.durationMs ?? 0));
    }
    return [...byVersion.values()];
  });
}
