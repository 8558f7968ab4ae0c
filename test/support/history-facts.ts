import type { SessionEvent } from "../../src/gen/switchboard/v1/orchestrator_pb.js";

/**
 * HistoryFacts are what a session's history says, in a form both of its
 * sources give alike: the replay window replays each reply in the chunks
 * it streamed in and a failed turn's first events, the audit trail each
 * reply as one chunk and a failed turn as its end; both at the same seqs.
 */
export interface HistoryFacts {
  /** Every event but output, as `seq:turnId:kind` (a failed turn by its `failed` event alone). */
  control: string[];
  /** Each reply of a turn that did not fail, as `turnId:lastSeq:text`. */
  replies: string[];
}

/**
 * historyFacts reduces events of a session's history to its HistoryFacts.
 */
export function historyFacts(events: SessionEvent[]): HistoryFacts {
  const failed = new Set(events.filter((e) => e.kind.case === "failed").map((e) => e.turnId));
  const text = new Map<string, string>();
  const lastOutput = new Map<string, bigint>();
  for (const e of events) {
    if (e.kind.case !== "output") continue;
    text.set(e.turnId, (text.get(e.turnId) ?? "") + e.kind.value.text);
    lastOutput.set(e.turnId, e.seq);
  }
  return {
    control: events
      .filter((e) => e.kind.case !== "output" && (!failed.has(e.turnId) || e.kind.case === "failed"))
      .map((e) => `${e.seq}:${e.turnId}:${e.kind.case}`),
    replies: [...text].filter(([turnId]) => !failed.has(turnId)).map(([turnId, t]) => `${turnId}:${lastOutput.get(turnId)}:${t}`),
  };
}
