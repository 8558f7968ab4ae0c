import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Session, SessionStatus } from "../gen/switchboard/v1/session_pb.js";
import { emptyCounts, median, type OutcomeQuery, type VersionCounts } from "../core/flow-stats.js";
import { hasEnded, outcomeFieldsOf } from "./outcome-fields.js";

/**
 * countOutcomes counts a flow's outcomes per version over sessions held in
 * memory, by the same rules as the MongoDB store's pipelines
 * (mongo-flow-stats.ts).
 */
export function countOutcomes(sessions: Iterable<{ session: Session; failedTurns: number }>, q: OutcomeQuery): VersionCounts[] {
  const byVersion = new Map<string, { counts: VersionCounts; durations: number[] }>();
  const since = q.since?.getTime();
  for (const { session, failedTurns } of sessions) {
    if (session.flowId !== q.flowId) continue;
    if (since !== undefined && (session.createTime ? timestampMs(session.createTime) : 0) < since) continue;
    const f = outcomeFieldsOf(session);
    const v = byVersion.get(f.flowVersion) ?? { counts: emptyCounts(f.flowVersion), durations: [] };
    byVersion.set(f.flowVersion, v);
    const c = v.counts;
    const handedOff = f.stages.some((s) => q.handOffStages.includes(s));
    c.started += 1;
    if (session.status === SessionStatus.COMPLETED) c.completed += 1;
    if (session.status === SessionStatus.FAILED) c.failed += 1;
    if (handedOff) c.handedOff += 1;
    if (session.status === SessionStatus.COMPLETED && !handedOff && (q.containedStages.length === 0 || f.stages.some((s) => q.containedStages.includes(s)))) {
      c.contained += 1;
    }
    c.turns += f.turns;
    c.bargeIns += f.bargeIns;
    c.failedTurns += failedTurns;
    if (hasEnded(session.status)) v.durations.push(f.durationMs);
  }
  return [...byVersion.values()].map(({ counts, durations }) => ({ ...counts, medianDurationMs: median(durations.sort((a, b) => a - b)) }));
}
