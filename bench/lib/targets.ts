import type { BenchReport, Row, Target } from "./report.js";
import type { StartupResult } from "./startup.js";
import { round } from "./stats.js";

/**
 * evaluate judges a run against the benchmark's targets. Every ratio is
 * taken between figures of the same run.
 */
export function evaluate(r: BenchReport): Target[] {
  const row = (system: string, c: number): Row | undefined => r.rows.find((x) => x.system === system && x.concurrency === c);
  const conc = [...new Set(r.rows.map((x) => x.concurrency))].sort((a, b) => a - b);
  const low = conc.filter((c) => c <= 64);
  const targets: Target[] = [];
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
  const judge = (v: number, ok: (v: number) => boolean) => (Number.isFinite(v) ? ok(v) : null);

  for (const c of low) {
    for (const stat of ["p50", "p99"] as const) {
      const a = row("A-connect", c)?.[stat] ?? NaN;
      const b = row("B-connect", c)?.[stat] ?? NaN;
      const sb = row("C", c)?.[stat] ?? NaN;
      const sbG = row("C-grpc-js", c)?.[stat] ?? NaN;
      const v = ratio(sb - a, b - a);
      const vG = ratio(sbG - a, b - a);
      targets.push({
        name: `Added latency, ${stat}, concurrency ${c}`,
        goal: "(C − A) ÷ (B − A) ≤ 1.5",
        value: String(round(v)),
        met: judge(v, (x) => x <= 1.5),
        detail: `connect-node stack: A ${round(a)} ms, B ${round(b)} ms, C ${round(sb)} ms; with the grpc-js agent transport C ${round(sbG)} ms → ${round(vG)}`,
      });
    }
  }

  const best = (system: string) => Math.max(...conc.map((c) => row(system, c)?.throughput ?? 0));
  const bC = best("B-connect");
  const bG = best("B-grpc-js");
  const bMax = Math.max(bC, bG);
  const cBest = best("C");
  const cBestG = best("C-grpc-js");
  const t = ratio(cBest, bMax);
  targets.push({
    name: "Throughput at saturation",
    goal: "C ÷ B ≥ 0.8 (B: the faster stack's relay)",
    value: String(round(t)),
    met: judge(t, (x) => x >= 0.8),
    detail: `best turns/s over the concurrencies: C ${round(cBest)} (grpc-js agent transport ${round(cBestG)} → ${round(ratio(cBestG, bMax))}), B connect ${round(bC)}, B grpc-js ${round(bG)}`,
  });

  const first = conc[0] ?? 1;
  const dT = row("D", first)?.ttfdP50 ?? null;
  const cT = row("C", first)?.ttfdP50 ?? null;
  const tt = dT !== null && cT !== null ? ratio(dT, cT) : NaN;
  targets.push({
    name: "Time to first delta, durable vs in-memory",
    goal: "D ÷ C ≤ 1.1",
    value: Number.isFinite(tt) ? String(round(tt)) : "n/a",
    met: judge(tt, (x) => x <= 1.1),
    detail: r.converse ? `concurrency ${first}, p50: D ${round(dT ?? NaN)} ms, C ${round(cT ?? NaN)} ms` : "needs Converse, which this server does not implement yet",
  });

  const added = (row("D", first)?.p50 ?? NaN) - (row("C", first)?.p50 ?? NaN);
  const budget = 2 * r.findOneAndUpdate.p50;
  targets.push({
    name: "Durable turn cost",
    goal: "(D − C) ≤ 2 × one findOneAndUpdate",
    value: `${round(added)} ms vs ${round(budget)} ms`,
    met: judge(added, (x) => x <= budget),
    detail: `concurrency ${first}, p50: D ${round(row("D", first)?.p50 ?? NaN)} ms, C ${round(row("C", first)?.p50 ?? NaN)} ms, findOneAndUpdate ${round(r.findOneAndUpdate.p50)} ms`,
  });

  for (const c of low) {
    const d = row("D-3", c)?.p50 ?? NaN;
    const e = row("E-3", c)?.p50 ?? NaN;
    const v = ratio(d, e);
    targets.push({
      name: `3-stage durable conversation vs LangGraph, p50, concurrency ${c}`,
      goal: "D ÷ E ≤ 0.33",
      value: String(round(v)),
      met: judge(v, (x) => x <= 0.33),
      detail: `D ${round(d)} ms, E ${round(e)} ms`,
    });
  }

  const bytes = ratio(r.bytesPerTurn.switchboard, r.bytesPerTurn.langgraph);
  targets.push({
    name: `Bytes stored per turn after ${r.bytesPerTurn.turns} turns`,
    goal: "D ÷ E ≤ 0.5",
    value: String(round(bytes)),
    // Conversations of different lengths are not comparable (LangGraph's checkpoints grow with the transcript).
    met: r.bytesPerTurn.switchboardTurns !== r.bytesPerTurn.langgraphTurns ? null : judge(bytes, (x) => x <= 0.5),
    detail:
      r.bytesPerTurn.switchboardTurns !== r.bytesPerTurn.langgraphTurns
        ? `incomplete: Switchboard ${Math.round(r.bytesPerTurn.switchboard)} B after ${r.bytesPerTurn.switchboardTurns} turns, LangGraph ${Math.round(r.bytesPerTurn.langgraph)} B after ${r.bytesPerTurn.langgraphTurns}`
        : `Switchboard ${Math.round(r.bytesPerTurn.switchboard)} B, LangGraph ${Math.round(r.bytesPerTurn.langgraph)} B`,
  });

  const eng = ratio(r.engine.switchboard.p50, r.engine.langgraph.p50);
  targets.push({
    name: "Engine overhead alone",
    goal: "≤ 0.1 × LangGraph's p50",
    value: String(round(eng)),
    met: judge(eng, (x) => x <= 0.1),
    detail: `p50: Switchboard ${round(r.engine.switchboard.p50)} ms, LangGraph (MemorySaver) ${round(r.engine.langgraph.p50)} ms`,
  });

  const sb = r.capacity["switchboard"];
  const bare = r.capacity["bare-connect"];
  const bareG = r.capacity["bare-grpc-js"];
  const cap = sb?.available && bare?.available ? ratio(sb.bytesPerStream, bare.bytesPerStream) : NaN;
  targets.push({
    name: "Idle stream memory",
    goal: "F(Switchboard) ÷ F(bare) ≤ 1.5, all open",
    value: Number.isFinite(cap) ? String(round(cap)) : "n/a",
    met: sb?.available ? (Number.isFinite(cap) ? cap <= 1.5 && sb.failed === 0 : false) : null,
    detail: sb?.available
      ? `${sb.streams} streams, ${sb.failed} failed; per stream: Switchboard ${round(sb.bytesPerStream / 1024)} KiB, bare connect ${round((bare?.bytesPerStream ?? NaN) / 1024)} KiB, bare grpc-js ${round((bareG?.bytesPerStream ?? NaN) / 1024)} KiB`
      : `Converse not available on this orchestrator; bare connect ${round((bare?.bytesPerStream ?? NaN) / 1024)} KiB, bare grpc-js ${round((bareG?.bytesPerStream ?? NaN) / 1024)} KiB per idle stream`,
  });
  targets.push(startupTarget(r.startup));
  return targets;
}

/**
 * startupTarget judges how soon a started `switchboard serve` (the built
 * command) serves: a replica that was killed and restarted serves nothing
 * until then.
 */
export function startupTarget(startup: StartupResult[]): Target {
  const b = startup.find((s) => s.key === "built");
  const t = startup.find((s) => s.key === "tsx");
  const p50 = b?.summary.p50 ?? NaN;
  return {
    name: "Start to SERVING, idle",
    goal: "p50 < 0.5 s",
    value: `p50 ${round(p50)} ms, max ${round(b?.summary.max ?? NaN)} ms`,
    // A start that never served is a miss, whatever the others did.
    met: b === undefined ? null : b.failed > 0 ? false : Number.isFinite(p50) ? p50 < 500 : null,
    detail: `${b?.summary.count ?? 0} starts of the built command, ${b?.failed ?? 0} failed; from the sources through tsx: p50 ${round(t?.summary.p50 ?? NaN)} ms, max ${round(t?.summary.max ?? NaN)} ms`,
  };
}
