// Back to back: the same scenarios against this checkout and another one
// (e.g. a commit before a change), alternating in slices so both see the
// same machine. Scenario C (SendTurn, in-memory store, one echo agent, the
// connect-node stack) at concurrency 1 and 16, and the engine alone (three
// chained stages, in-process agent).
// Usage: npm run bench:compare -- --before DIR [--rounds N]
//   where DIR is another checkout, e.g. `git worktree add ../before <commit>`
//   (with its node_modules and bench/node_modules installed or linked).
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Child, planCpus, repoRoot, startChild } from "./lib/children.js";
import { orchestratorClient } from "./lib/clients.js";
import { runLoad } from "./lib/load.js";
import { cpuSeconds } from "./lib/proc-stats.js";
import { summarize } from "./lib/stats.js";

const { values } = parseArgs({ options: { before: { type: "string" }, rounds: { type: "string", default: "4" } } });
if (values.before === undefined) throw new Error("--before DIR: a checkout to compare this one with");
const before = resolve(values.before);
const rounds = Number(values.rounds);
const cpus = planCpus();
const logDir = join(repoRoot, "bench/results/logs");
const children: Child[] = [];
const log = (msg: string) => process.stderr.write(`[compare] ${msg}\n`);

/** serveCommand starts a checkout's orchestrator the way that checkout does: built when it has a build. */
function serveCommand(dir: string, agentUrl: string): string[] {
  const args = ["serve", "--port", "{port}", "--flows", join(dir, "bench/flows"), "--default-flow", "bench-1", "--agent", `echo=${agentUrl}`];
  return existsSync(join(dir, "tsconfig.build.json"))
    ? [process.execPath, join(dir, "bin/switchboard.js"), ...args]
    : [process.execPath, "--import", "tsx", join(dir, "src/cli/main.ts"), ...args];
}

const checkouts = { before, after: repoRoot };
/** commitOf names a checkout's commit (not its path, which is this machine's). */
const commitOf = (dir: string) => execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
try {
  for (const dir of Object.values(checkouts)) {
    if (existsSync(join(dir, "tsconfig.build.json"))) execFileSync("npm", ["run", "-s", "build"], { cwd: dir, stdio: "inherit" });
  }
  const agent = await startChild({ name: "compare-agent", command: [process.execPath, "dist/agents/echo/main.js", "--port", "{port}"], cpus, logDir });
  children.push(agent);
  const systems: Record<string, Child> = {};
  for (const [name, dir] of Object.entries(checkouts)) {
    const c = await startChild({ name: `compare-${name}`, command: serveCommand(dir, agent.url), cpus, logDir });
    children.push(c);
    systems[name] = c;
  }
  // CPU per turn of the orchestrator's process (the agent is shared): on a
  // machine others load, it moves far less than latency and turns/s do.
  const lines: string[] = [
    "| scenario | before p50 ms | after p50 ms | before turns/s | after turns/s | before CPU ms/turn | after CPU ms/turn |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const concurrency of [1, 16]) {
    const acc: Record<string, { lat: number[]; tps: number[]; cpu: number; turns: number }> = {
      before: { lat: [], tps: [], cpu: 0, turns: 0 },
      after: { lat: [], tps: [], cpu: 0, turns: 0 },
    };
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? ["before", "after"] : ["after", "before"]) {
        const { client, close } = orchestratorClient((systems[name] as Child).url);
        const pid = (systems[name] as Child).pid;
        const cpu0 = cpuSeconds(pid);
        let turns = 0;
        const res = await runLoad({
          concurrency,
          warmupMs: 500,
          durationMs: 3000,
          turn: async (vu, n) => {
            await client.sendTurn({ sessionId: `${name}-${round}-${vu}-${Math.floor(n / 20)}`, input: { text: "hello there" } });
            turns++;
            return {};
          },
        });
        close();
        const a = acc[name] as { lat: number[]; tps: number[]; cpu: number; turns: number };
        a.lat.push(...res.latencies);
        a.tps.push(res.throughput);
        a.cpu += cpuSeconds(pid) - cpu0;
        a.turns += turns;
        log(`C c=${concurrency} round ${round + 1}/${rounds} ${name}: ${res.throughput.toFixed(0)} turns/s`);
      }
    }
    const row = (name: string) => acc[name] as { lat: number[]; tps: number[]; cpu: number; turns: number };
    const cpuMs = (name: string) => ((row(name).cpu / row(name).turns) * 1000).toFixed(2);
    const tps = (name: string) => row(name).tps.reduce((s, v) => s + v, 0) / row(name).tps.length;
    lines.push(`| C, concurrency ${concurrency} | ${summarize(row("before").lat).p50.toFixed(2)} | ${summarize(row("after").lat).p50.toFixed(2)} | ${tps("before").toFixed(0)} | ${tps("after").toFixed(0)} | ${cpuMs("before")} | ${cpuMs("after")} |`);
  }
  const engine: Record<string, number[]> = { before: [], after: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [name, dir] of round % 2 === 0 ? Object.entries(checkouts) : Object.entries(checkouts).reverse()) {
      const out = execFileSync(process.execPath, ["--import", "tsx", "bench/systems/engine-overhead.ts", "--turns", "2000", "--warmup", "400"], { cwd: dir, encoding: "utf8" });
      const p50 = (JSON.parse(out.trim().split("\n").pop() as string) as { switchboard: { p50: number } }).switchboard.p50;
      (engine[name] as number[]).push(p50);
      log(`engine round ${round + 1}/${rounds} ${name}: p50 ${p50.toFixed(3)} ms`);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  lines.push(`| engine alone, 3 chained stages (median of ${rounds} p50s) | ${median(engine["before"] as number[]).toFixed(3)} | ${median(engine["after"] as number[]).toFixed(3)} | | | | |`);
  process.stdout.write(`${lines.join("\n")}\n`);
  writeFileSync(
    join(repoRoot, "bench/results/compare.md"),
    `# Back to back: this checkout against another\n\n${new Date().toISOString()} · before: ${commitOf(before)} · after: ${commitOf(repoRoot)} · ${rounds} rounds · ${cpus.note} · load average ${loadavg()[0]?.toFixed(2)}\n\n${lines.join("\n")}\n`,
  );
} finally {
  await Promise.all(children.map((c) => c.stop()));
}
