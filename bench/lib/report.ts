import type { CapacityResult } from "./capacity.js";
import type { StartupResult } from "./startup.js";
import { round, type Summary } from "./stats.js";
import { capacityTarget } from "./targets.js";

/** Row is one system at one concurrency. Times in ms, RSS in MiB. */
export interface Row {
  system: string;
  label: string;
  concurrency: number;
  p50: number;
  p99: number;
  /** Turns per second. */
  throughput: number;
  ttfdP50: number | null;
  ttfdP99: number | null;
  /** CPU of the system's processes (agent and database included), in cores. */
  cpuCores: number;
  /**
   * The same CPU per turn, in ms (CPU seconds ÷ turns × 1000): a fair pair
   * with `throughput`, as a system can buy turns per second by using more
   * cores; null when no turn finished.
   */
  cpuMsPerTurn: number | null;
  /** Peak RSS of the system's own process. */
  peakRssMiB: number;
  turns: number;
  errors: number;
  firstError?: string;
}

/** Target is one of the goals the benchmark judges, with where it stands. */
export interface Target {
  name: string;
  goal: string;
  value: string;
  /** null when it could not be measured in this run. */
  met: boolean | null;
  detail: string;
}

/** BenchReport is everything one run measured. */
export interface BenchReport {
  date: string;
  quick: boolean;
  node: string;
  cpus: string;
  loadAverage: number[];
  database: string;
  converse: boolean;
  plan: Record<string, unknown>;
  rows: Row[];
  findOneAndUpdate: Summary;
  /** `turns` is the fewer of the two conversations' completed turns (both are `plan.bytesTurns` unless cut short). */
  bytesPerTurn: { turns: number; switchboardTurns?: number; langgraphTurns?: number; switchboard: number; langgraph: number };
  engine: { switchboard: Summary; langgraph: Summary };
  capacity: Record<string, CapacityResult>;
  /** Start to SERVING of `switchboard serve`, per program that started it. */
  startup: StartupResult[];
  targets: Target[];
  /** Scenarios cut short by their time cap or failed, with why; empty when all completed. */
  incomplete?: string[];
  seconds: number;
}

const f = (v: number | null | undefined, unit = "") => (v === null || v === undefined || !Number.isFinite(v) ? "n/a" : `${round(v)}${unit}`);

/**
 * markdownReport renders a run as Markdown: the figures, the targets, and
 * the single measurements.
 */
export function markdownReport(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(`# Benchmark results${r.quick ? " (quick run: proves the scenarios run, not how fast)" : ""}`, "");
  lines.push(`${r.date} · Node ${r.node} · ${r.cpus} · load average at the end ${r.loadAverage.join(" ")} · database: ${r.database} · Converse ${r.converse ? "available" : "not available (C and D use SendTurn; no time to first delta)"} · ${Math.round(r.seconds)} s`, "");
  lines.push("| system | conc. | p50 ms | p99 ms | turns/s | CPU ms/turn | first delta p50 ms | CPU cores | peak RSS MiB | errors |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of r.rows) {
    lines.push(
      `| ${row.label} | ${row.concurrency} | ${f(row.p50)} | ${f(row.p99)} | ${f(row.throughput)} | ${f(row.cpuMsPerTurn)} | ${f(row.ttfdP50)} | ${f(row.cpuCores)} | ${f(row.peakRssMiB)} | ${row.errors}${row.firstError ? ` (${row.firstError.slice(0, 60)})` : ""} |`,
    );
  }
  if (r.incomplete !== undefined && r.incomplete.length > 0) {
    lines.push("", `**Incomplete:** ${r.incomplete.join("; ")}.`);
  }
  lines.push("", ...targetsTable(r.targets));
  lines.push("", startupMarkdown(r.startup));
  lines.push("", "## Single measurements", "");
  lines.push(`- Bare \`findOneAndUpdate\` on the same server: p50 ${f(r.findOneAndUpdate.p50)} ms, p99 ${f(r.findOneAndUpdate.p99)} ms (${r.findOneAndUpdate.count} calls).`);
  const bt = r.bytesPerTurn;
  lines.push(
    bt.switchboardTurns !== undefined && bt.switchboardTurns !== bt.langgraphTurns
      ? `- Bytes stored per turn, 3-stage conversations (incomplete): Switchboard ${f(bt.switchboard)} after ${bt.switchboardTurns} turns, LangGraph ${f(bt.langgraph)} after ${bt.langgraphTurns} turns.`
      : `- Bytes stored per turn after a ${bt.turns}-turn 3-stage conversation (each on a fresh database): Switchboard ${f(bt.switchboard)}, LangGraph ${f(bt.langgraph)}.`,
  );
  lines.push(`- Engine alone, 3 chained stages with in-process agents: Switchboard p50 ${f(r.engine.switchboard.p50)} ms (p99 ${f(r.engine.switchboard.p99)}), LangGraph with MemorySaver p50 ${f(r.engine.langgraph.p50)} ms (p99 ${f(r.engine.langgraph.p99)}).`);
  lines.push(...capacityLines(r.capacity));
  return `${lines.join("\n")}\n`;
}

/** capacityLines describes scenario F's runs, one line per system. */
function capacityLines(capacity: Record<string, CapacityResult>): string[] {
  return Object.entries(capacity).map(([key, c]) =>
    c.available
      ? `- ${c.streams} idle Converse streams on ${key}: ${f(c.bytesPerStream / 1024, " KiB")} per stream (RSS ${f(c.rssBeforeMiB)} → ${f(c.rssAfterMiB)} MiB, peak ${f(c.peakRssMiB)} MiB), ${c.failed} failed${c.resourceExhausted ? ` (${c.resourceExhausted} RESOURCE_EXHAUSTED)` : ""}, opened in ${f(c.openSeconds)} s.`
      : `- Idle Converse streams on ${key}: not available (the server answers UNIMPLEMENTED).`,
  );
}

/** capacityMarkdown is scenario F alone (`--only capacity`): its lines and its target. */
export function capacityMarkdown(capacity: Record<string, CapacityResult>): string {
  const t = capacityTarget(capacity);
  return `## Idle streams\n\n${capacityLines(capacity).join("\n")}\n\n${t.name}: ${t.value} (goal ${t.goal}; ${t.met === null ? "n/a" : t.met ? "met" : "not met"}): ${t.detail}\n`;
}

function targetsTable(targets: Target[]): string[] {
  const lines = ["## Targets", "", "| target | goal | this run | met | how |", "|---|---|---:|---|---|"];
  for (const t of targets) {
    lines.push(`| ${t.name} | ${t.goal} | ${t.value} | ${t.met === null ? "n/a" : t.met ? "yes" : "**no**"} | ${t.detail} |`);
  }
  return lines;
}

/**
 * startupMarkdown renders the start-to-SERVING figures of `switchboard
 * serve` as a section of its own; with `targets`, their table follows (for
 * a run of that scenario alone).
 */
export function startupMarkdown(startup: StartupResult[], targets: Target[] = []): string {
  const lines = ["## Start to SERVING", ""];
  lines.push("`switchboard serve` started one at a time before anything else of the benchmark runs, each timed from spawn until its gRPC health check answers SERVING.", "");
  lines.push("| command | starts | p50 ms | p90 ms | max ms | failed |", "|---|---:|---:|---:|---:|---:|");
  for (const s of startup) {
    lines.push(`| ${s.label} | ${s.summary.count + s.failed} | ${f(s.summary.p50)} | ${f(s.summary.p90)} | ${f(s.summary.max)} | ${s.failed}${s.firstError ? ` (${s.firstError.slice(0, 60)})` : ""} |`);
  }
  if (targets.length > 0) lines.push("", ...targetsTable(targets));
  return `${lines.join("\n")}\n`;
}

/** esc escapes text for an SVG or XML element's content. */
export const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * svgChart draws the latencies as horizontal bars, one panel per
 * concurrency: p99 light behind p50 dark, each panel on its own scale.
 */
export function svgChart(r: BenchReport): string {
  const conc = [...new Set(r.rows.map((x) => x.concurrency))];
  const systems = [...new Set(r.rows.map((x) => x.system))];
  const labelW = 330;
  const barW = 520;
  const rowH = 20;
  const panelH = systems.length * rowH + 44;
  const width = labelW + barW + 90;
  const height = conc.length * panelH + 50;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">Turn latency by system (ms): p50 dark, p99 light</text>`);
  out.push(`<text x="10" y="38" fill="#555">${esc(`${r.date.slice(0, 16)} · Node ${r.node} · ${r.cpus}`)}</text>`);
  conc.forEach((c, pi) => {
    const y0 = 50 + pi * panelH;
    const rows = r.rows.filter((x) => x.concurrency === c);
    const max = Math.max(...rows.map((x) => (Number.isFinite(x.p99) ? x.p99 : 0)), 0.001);
    out.push(`<text x="10" y="${y0 + 16}" font-weight="bold">concurrency ${c}</text>`);
    systems.forEach((s, i) => {
      const row = rows.find((x) => x.system === s);
      const y = y0 + 26 + i * rowH;
      out.push(`<text x="${labelW - 8}" y="${y + 13}" text-anchor="end">${esc(row?.label ?? s)}</text>`);
      if (row === undefined || !Number.isFinite(row.p50)) return;
      const w99 = (barW * row.p99) / max;
      const w50 = (barW * row.p50) / max;
      out.push(`<rect x="${labelW}" y="${y + 2}" width="${w99.toFixed(1)}" height="${rowH - 5}" fill="#9ecae1"/>`);
      out.push(`<rect x="${labelW}" y="${y + 2}" width="${w50.toFixed(1)}" height="${rowH - 5}" fill="#2171b5"/>`);
      out.push(`<text x="${(labelW + w99 + 4).toFixed(1)}" y="${y + 13}" fill="#333">${round(row.p50)} / ${round(row.p99)}</text>`);
    });
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
