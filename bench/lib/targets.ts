import type { CapacityResult } from "./capacity.js";
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
  // Fair pairs: C calls the connect-node echo agent, so B is the faster of
  // the two relays that call that same agent (B-grpc-js calls the grpc-js
  // agent, and is shown for reference only).
  const bC = best("B-connect");
  const bG = best("B-grpc-js");
  const bGC = best("B-grpc-js-c");
  const bMax = Math.max(bC, bGC);
  const cBest = best("C");
  const cBestG = best("C-grpc-js");
  const t = ratio(cBest, bMax);
  targets.push({
    name: "Throughput at saturation",
    goal: "C ÷ B ≥ 0.8 (B: the faster relay to the same agent)",
    value: String(round(t)),
    met: judge(t, (x) => x >= 0.8),
    detail: `best turns/s over the concurrencies: C ${round(cBest)} (grpc-js agent transport ${round(cBestG)} → ${round(ratio(cBestG, bMax))}), B connect ${round(bC)}, B grpc-js → the same agent ${round(bGC)} (B grpc-js → the grpc-js agent ${round(bG)})`,
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

  targets.push(capacityTarget(r.capacity, typeof r.plan["idleStreams"] === "number" ? r.plan["idleStreams"] : undefined));
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

/**
 * capacityTarget judges scenario F: every one of the planned idle Converse
 * streams open on Switchboard, none refused, and its memory per stream at
 * most 1.5 × the leaner bare server's (the stack, not Switchboard, holds
 * most of an idle stream, so the judgement is against the leaner stack).
 */
export function capacityTarget(capacity: Record<string, CapacityResult>, planned?: number): Target {
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
  const sb = capacity["switchboard"];
  const bare = capacity["bare-connect"];
  const bareG = capacity["bare-grpc-js"];
  const leaner = Math.min(bare?.bytesPerStream ?? Infinity, bareG?.bytesPerStream ?? Infinity);
  const cap = sb?.available ? ratio(sb.bytesPerStream, leaner) : NaN;
  const allOpen = sb !== undefined && sb.failed === 0 && (planned === undefined || sb.streams >= planned);
  const kib = (c: CapacityResult | undefined) => round((c?.bytesPerStream ?? NaN) / 1024);
  return {
    name: "Idle stream memory",
    goal: "F(Switchboard) ÷ F(leaner bare server) ≤ 1.5, all open",
    value: Number.isFinite(cap) ? String(round(cap)) : "n/a",
    met: sb?.available ? (Number.isFinite(cap) ? cap <= 1.5 && allOpen : false) : null,
    detail: sb?.available
      ? `${sb.streams}${planned !== undefined ? ` of ${planned}` : ""} streams, ${sb.failed} failed, opened in ${round(sb.openSeconds)} s; per stream: Switchboard ${kib(sb)} KiB, bare connect ${kib(bare)} KiB, bare grpc-js ${kib(bareG)} KiB`
      : `Converse not available on this orchestrator; bare connect ${kib(bare)} KiB, bare grpc-js ${kib(bareG)} KiB per idle stream`,
  };
}
