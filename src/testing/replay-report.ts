import type { JsonValue } from "@bufbuild/protobuf";
import type { SessionReplay } from "./replay.js";

/**
 * replayLines renders one session's replay: where it departs from the
 * recording, turn by turn (stage, agent, reply, status, the state as a
 * diff), where the recording could not answer, and how the outcome changed.
 */
export function replayLines(r: SessionReplay): string[] {
  const first = r.departures[0];
  const head = `${r.session}: ${r.from} → ${r.to}: ${first ? `departs at turn ${first.turn} of ${r.turns}, stage ${first.stage}` : r.stopped ? `the same until turn ${r.stopped.turn} of ${r.turns}` : `the same in all ${r.turns} turns`}`;
  const lines = [head];
  for (const d of r.departures) {
    lines.push(`  turn ${d.turn} ${JSON.stringify(d.input)} (stage ${d.stage})`);
    for (const x of d.differ) {
      const show = (s: string) => (x.what === "reply" ? JSON.stringify(s) : s || "(none)");
      lines.push(`    ${x.what.padEnd(7)} recorded ${show(x.recorded)}`, `    ${"".padEnd(7)} replayed ${show(x.replayed)}`);
    }
    for (const c of d.state) lines.push(`    state   ${stateLine(c.key, c.recorded, c.replayed)}`);
  }
  if (r.stopped) lines.push(`  stopped at turn ${r.stopped.turn}: ${r.stopped.reason}`);
  if (r.outcome.recorded !== r.outcome.replayed) lines.push(`  outcome recorded ${r.outcome.recorded}`, `          replayed ${r.outcome.replayed}`);
  return lines;
}

function stateLine(key: string, recorded: JsonValue | undefined, replayed: JsonValue | undefined): string {
  if (recorded === undefined) return `+ ${key}: ${JSON.stringify(replayed)}`;
  if (replayed === undefined) return `- ${key}: ${JSON.stringify(recorded)}`;
  return `~ ${key}: ${JSON.stringify(recorded)} → ${JSON.stringify(replayed)}`;
}

/**
 * ReplaySummary counts a batch of replays: how many departed, at which
 * stage they first did, and how their outcomes changed.
 */
export interface ReplaySummary {
  replayed: number;
  departed: number;
  same: number;
  /** Sessions by the stage of their first departing turn. */
  departedAt: Record<string, number>;
  /** Sessions by "recorded → replayed" outcome, for those whose outcome changed. */
  outcomes: Record<string, number>;
}

/**
 * summarizeReplays counts a batch of replays.
 */
export function summarizeReplays(replays: readonly SessionReplay[]): ReplaySummary {
  const s: ReplaySummary = { replayed: replays.length, departed: 0, same: 0, departedAt: {}, outcomes: {} };
  for (const r of replays) {
    const first = r.departures[0];
    if (first === undefined && r.stopped === undefined) {
      s.same++;
      continue;
    }
    s.departed++;
    const stage = first?.stage ?? `(stopped at turn ${r.stopped?.turn})`;
    s.departedAt[stage] = (s.departedAt[stage] ?? 0) + 1;
    if (r.outcome.recorded !== r.outcome.replayed) {
      const key = `${r.outcome.recorded} → ${r.outcome.replayed}`;
      s.outcomes[key] = (s.outcomes[key] ?? 0) + 1;
    }
  }
  return s;
}

/**
 * summaryLines renders a batch's summary.
 */
export function summaryLines(s: ReplaySummary, to: string): string[] {
  const lines = [`replayed ${s.replayed} session${s.replayed === 1 ? "" : "s"} against ${to}: ${s.departed} departed, ${s.same} the same`];
  const at = Object.entries(s.departedAt).sort((a, b) => b[1] - a[1]);
  if (at.length > 0) lines.push("  departed at stage:", ...at.map(([stage, n]) => `    ${String(n).padStart(5)}  ${stage}`));
  const outcomes = Object.entries(s.outcomes).sort((a, b) => b[1] - a[1]);
  if (outcomes.length > 0) lines.push("  outcomes changed:", ...outcomes.map(([o, n]) => `    ${String(n).padStart(5)}  ${o}`));
  return lines;
}
