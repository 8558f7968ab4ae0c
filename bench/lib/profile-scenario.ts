import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { built, type Child, type CpuPlan, startChild, switchboard } from "./children.js";
import { orchestratorClient } from "./clients.js";
import { flameGraphSvg } from "./flame-graph.js";
import { runLoad } from "./load.js";
import { userText } from "./payload.js";
import { cpuSeconds } from "./proc-stats.js";
import { type CpuProfile, type ProfileSummary, readCpuProfile, summarizeProfile } from "./profile-summary.js";
import { round } from "./stats.js";

/** ProfileOptions say where a profiled run writes and how long it loads. */
export interface ProfileOptions {
  /** The run's results directory: the profiles go to `profiles/C/` under it. */
  outDir: string;
  logDir: string;
  cpus: CpuPlan;
  quick: boolean;
  log: (msg: string) => void;
}

/** ProfiledProcess is one profiled process of the run and what it cost. */
export interface ProfiledProcess {
  role: "orchestrator" | "agent";
  /** CPU of the process over the measured window, per turn, from /proc (ms). */
  cpuMsPerTurn: number;
  /** Whether the samples could be cut to the measured window (else the whole life of the process is summed). */
  windowed: boolean;
  summary: ProfileSummary;
  files: { cpuprofile: string; svg: string };
}

/** ProfileResult is a profiled run of scenario C. */
export interface ProfileResult {
  dir: string;
  concurrency: number;
  turns: number;
  seconds: number;
  turnsPerSecond: number;
  errors: number;
  processes: ProfiledProcess[];
  markdown: string;
}

/** withCpuProf makes a `node FILE ...` command write a V8 CPU profile into `dir` when it exits. */
function withCpuProf(command: string[], dir: string): string[] {
  const [node, ...rest] = command;
  return [node as string, "--cpu-prof", "--cpu-prof-dir", dir, ...rest];
}

/** newestProfile finds the .cpuprofile a process left in `dir`. */
function newestProfile(dir: string): string {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")) : [];
  const newest = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (newest === undefined) throw new Error(`no .cpuprofile in ${dir}: the process did not exit cleanly (see its log)`);
  return newest;
}

/**
 * window keeps the samples taken between `fromUs` and `toUs`, so start-up
 * and shutdown do not blur a turn's profile. V8 stamps samples with the
 * monotonic clock that `process.hrtime` reads, in µs; where no sample falls
 * in the window (another clock), the whole profile is kept.
 */
function window(profile: CpuProfile, fromUs: number, toUs: number): { profile: CpuProfile; windowed: boolean } {
  const samples: number[] = [];
  const deltas: number[] = [];
  let t = profile.startTime;
  let last = fromUs;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) return;
    samples.push(id);
    deltas.push(t - last);
    last = t;
  });
  if (samples.length === 0) return { profile, windowed: false };
  return { profile: { ...profile, samples, timeDeltas: deltas, startTime: fromUs, endTime: toUs }, windowed: true };
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * profileScenarioC runs scenario C under Node's `--cpu-prof`: the echo
 * agent and `switchboard serve` (memory store, flow `bench-1`), built, as
 * the benchmark runs them, each writing its profile when SIGTERM stops it;
 * the load generator sends `SendTurn`s at concurrency 16 (a warm-up, then
 * the measured window). For each process it writes, under
 * `OUT/profiles/C/`, the profile cut to the measured window
 * (`ROLE.cpuprofile`: Chrome DevTools and speedscope open it), a flame
 * graph (`ROLE.svg`), and for both `summary.md`: CPU ms per turn and self
 * time by package and by function.
 */
export async function profileScenarioC(o: ProfileOptions): Promise<ProfileResult> {
  const dir = join(o.outDir, "profiles", "C");
  rmSync(dir, { recursive: true, force: true });
  const raw = { orchestrator: join(dir, "raw", "orchestrator"), agent: join(dir, "raw", "agent") };
  for (const d of Object.values(raw)) mkdirSync(d, { recursive: true });
  const concurrency = 16;
  const [warmupMs, durationMs] = o.quick ? [300, 2000] : [2000, 20_000];
  const children: Child[] = [];
  const start = async (name: string, command: string[]) => {
    const c = await startChild({ name, command, cpus: o.cpus, logDir: o.logDir });
    children.push(c);
    return c;
  };
  let measured: { turns: number; seconds: number; errors: number; fromUs: number; toUs: number; cpu: number[] };
  try {
    o.log(`profile C: starting the echo agent and switchboard serve under --cpu-prof`);
    const agent = await start("profile-agent", withCpuProf(built("agents/echo/main.ts", "--port", "{port}"), raw.agent));
    const sb = await start(
      "profile-switchboard",
      withCpuProf(
        switchboard("serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1", "--agent", `echo=${agent.url}`, "--max-streams-per-token", "0", "--agent-max-turns", "512", "--agent-max-queue", "512"),
        raw.orchestrator,
      ),
    );
    const pids = [sb.pid, agent.pid];
    const { client, close } = orchestratorClient(sb.url);
    let seq = 0;
    let fromUs = 0;
    let cpu0: number[] = [];
    o.log(`profile C: SendTurn at concurrency ${concurrency}, ${warmupMs / 1000} s warm-up, ${durationMs / 1000} s measured`);
    const res = await runLoad({
      concurrency,
      warmupMs,
      durationMs,
      turn: async (vu) => {
        await client.sendTurn({ sessionId: `profile-${vu}`, flowId: "bench-1", turnId: `p${++seq}`, input: { text: userText } }, { timeoutMs: 30_000 });
        return {};
      },
      onMeasureStart: () => {
        fromUs = nowUs();
        cpu0 = pids.map(cpuSeconds);
      },
    });
    const toUs = nowUs();
    const cpu = pids.map((p, i) => cpuSeconds(p) - (cpu0[i] ?? 0));
    close();
    const seconds = res.measuredMs / 1000;
    measured = { turns: Math.round(res.throughput * seconds), seconds, errors: res.errors, fromUs, toUs, cpu };
  } finally {
    // SIGTERM: both drain and exit 0, which is when Node writes the profile.
    await Promise.all(children.map((c) => c.stop()));
  }
  const processes = (["orchestrator", "agent"] as const).map((role, i): ProfiledProcess => {
    const cut = window(readCpuProfile(newestProfile(raw[role])), measured.fromUs, measured.toUs);
    const files = { cpuprofile: join(dir, `${role}.cpuprofile`), svg: join(dir, `${role}.svg`) };
    writeFileSync(files.cpuprofile, JSON.stringify(cut.profile));
    writeFileSync(files.svg, flameGraphSvg(cut.profile, `Scenario C, ${role === "orchestrator" ? "switchboard serve" : "echo agent"}: SendTurn at concurrency ${concurrency}`));
    const turns = Math.max(measured.turns, 1);
    return { role, cpuMsPerTurn: ((measured.cpu[i] ?? 0) / turns) * 1000, windowed: cut.windowed, summary: summarizeProfile(cut.profile), files };
  });
  const result: ProfileResult = {
    dir,
    concurrency,
    turns: measured.turns,
    seconds: measured.seconds,
    turnsPerSecond: measured.turns / measured.seconds,
    errors: measured.errors,
    processes,
    markdown: "",
  };
  result.markdown = profileMarkdown(result, o.quick ? 10 : 25);
  writeFileSync(join(dir, "summary.md"), result.markdown);
  return result;
}

/**
 * profileMarkdown renders a profiled run: per process, its CPU per turn and
 * the top `top` of self time by package and by function, as shares of the
 * process's busy time (idle left out) and as µs per turn.
 */
export function profileMarkdown(r: ProfileResult, top: number): string {
  const lines = [`# Profile of scenario C`, ""];
  lines.push(
    `${new Date().toISOString()} · Node ${process.version} · SendTurn at concurrency ${r.concurrency}, ${r.turns} turns in ${round(r.seconds)} s (${round(r.turnsPerSecond)} turns/s, ${r.errors} errors) · samples cut to the measured window${r.processes.every((p) => p.windowed) ? "" : " (not possible here: whole life of the process)"}`,
  );
  for (const p of r.processes) {
    const s = p.summary;
    const busy = s.totalUs - s.idleUs;
    const pct = (us: number) => (busy > 0 ? `${((100 * us) / busy).toFixed(1)}%` : "n/a");
    const perTurn = (us: number) => `${round(us / Math.max(r.turns, 1))}`;
    lines.push("", `## ${p.role === "orchestrator" ? "Orchestrator (switchboard serve)" : "Agent (echo, agent SDK)"}`, "");
    lines.push(`CPU ${round(p.cpuMsPerTurn)} ms per turn (/proc); sampled busy ${round(busy / 1000)} ms, idle ${round(s.idleUs / 1000)} ms. Flame graph \`${p.role}.svg\`, profile \`${p.role}.cpuprofile\`.`, "");
    lines.push("| package | self % of busy | self µs/turn |", "|---|---:|---:|");
    for (const [k, v] of s.byPackage.filter(([k]) => k !== "(idle)").slice(0, 10)) lines.push(`| ${k} | ${pct(v)} | ${perTurn(v)} |`);
    lines.push("", "| function (self) | self % of busy | self µs/turn |", "|---|---:|---:|");
    for (const [k, v] of s.byFunction.filter(([k]) => !k.startsWith("(idle)")).slice(0, top)) lines.push(`| \`${k.replace(/\|/g, "\\|")}\` | ${pct(v)} | ${perTurn(v)} |`);
  }
  return `${lines.join("\n")}\n`;
}
