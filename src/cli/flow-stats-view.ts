import { durationMs } from "@bufbuild/protobuf/wkt";
import type { GetFlowStatsResponse, Rate, VersionStats } from "../gen/switchboard/v1/rollout_pb.js";
import { rateDifference } from "../core/flow-stats.js";
import { table } from "./output.js";

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const points = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}`;

/** rateCell shows a rate with its 95 % Wilson interval and counts: "8.3% [1.5%, 35.4%] 1/12". */
function rateCell(r: Rate | undefined): string {
  if (r === undefined || r.total === 0n) return "-";
  return `${pct(r.value)} [${pct(r.low)}, ${pct(r.high)}] ${r.count}/${r.total}`;
}

/** differenceCell shows a − b in points with its interval, and whether it is beyond the noise. */
function differenceCell(a: Rate | undefined, b: Rate | undefined): string {
  if (a === undefined || b === undefined || a.total === 0n || b.total === 0n) return "-";
  const d = rateDifference(a, b);
  const real = d.low > 0 || d.high < 0;
  return `${points(d.value)} pts [${points(d.low)}, ${points(d.high)}] ${real ? "real" : "within noise"}`;
}

function seconds(v: VersionStats): string {
  return v.medianDuration === undefined ? "-" : `${(durationMs(v.medianDuration) / 1000).toFixed(1)}s`;
}

/**
 * flowStatsTable renders a flow's outcomes per version side by side, newest
 * version first, with each rate's 95 % interval, and, for two or more
 * versions, the difference of the newest from the next (a "real"
 * difference is one whose 95 % interval excludes zero).
 */
export function flowStatsTable(res: GetFlowStatsResponse): string {
  const versions = res.versions;
  if (versions.length === 0) return "no sessions in the window\n";
  const [a, b] = versions;
  const compare = a !== undefined && b !== undefined;
  const header = ["", ...versions.map((v) => `version ${v.version}`), ...(compare ? [`${a.version} vs ${b.version}`] : [])];
  const count = (name: string, pick: (v: VersionStats) => bigint) => [name, ...versions.map((v) => String(pick(v))), ...(compare ? [""] : [])];
  const rate = (name: string, pick: (v: VersionStats) => Rate | undefined) => [
    name,
    ...versions.map((v) => rateCell(pick(v))),
    ...(compare ? [differenceCell(pick(a), pick(b))] : []),
  ];
  const rows = [
    count("sessions", (v) => v.started),
    count("completed", (v) => v.completed),
    count("failed", (v) => v.failed),
    count("unfinished", (v) => v.unfinished),
    rate("hand-off", (v) => v.handOff),
    rate("containment", (v) => v.containment),
    rate("failed turns", (v) => v.failedTurns),
    rate("barge-in", (v) => v.bargeIn),
    ["turns/session", ...versions.map((v) => v.turnsPerSession.toFixed(2)), ...(compare ? [(a.turnsPerSession - b.turnsPerSession).toFixed(2)] : [])],
    ["median duration", ...versions.map(seconds), ...(compare ? [""] : [])],
  ];
  return table(header, rows);
}
