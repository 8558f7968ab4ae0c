import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { BenchReport } from "../bench/lib/report.js";
import { repoRoot } from "./support/process.js";

const run = promisify(execFile);

/**
 * The benchmark's smoke check: `npm run bench -- --quick` runs every
 * scenario against real processes and the test database and reports a
 * figure for each. It proves the benchmark works, not how fast anything
 * is: speed is judged by the full run, never by a test.
 */
describe("npm run bench -- --quick", () => {
  const out = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
  let report: BenchReport;

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs every scenario and writes the results as JSON, Markdown and SVG", { timeout: 240_000 }, async () => {
    const { stdout } = await run("npm", ["run", "-s", "bench", "--", "--quick", "--out", out], {
      cwd: repoRoot,
      env: { ...process.env, MONGODB_URI: inject("mongoUri") },
      timeout: 230_000,
      maxBuffer: 16 << 20,
    });
    report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as BenchReport;
    expect(stdout).toContain("| system | conc. | p50 ms |");
    expect(readFileSync(join(out, "latest.md"), "utf8")).toContain("## Targets");
    expect(readFileSync(join(out, "latency.svg"), "utf8")).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
    expect(existsSync(join(repoRoot, "bench/node_modules/@langchain/langgraph"))).toBe(true);
  });

  it("measures every system at every concurrency, without errors", () => {
    const systems = ["A-connect", "A-grpc-js", "A-mixed", "B-connect", "B-grpc-js", "C", "C-grpc-js", "D", "D-3", "E-3"];
    for (const c of report.plan["concurrency"] as number[]) {
      for (const s of systems) {
        const row = report.rows.find((r) => r.system === s && r.concurrency === c);
        expect(row, `${s} at ${c}`).toBeDefined();
        expect(row?.errors, `${s} at ${c}: ${row?.firstError}`).toBe(0);
        expect(row?.turns, `${s} at ${c}`).toBeGreaterThan(0);
        for (const v of [row?.p50, row?.p99, row?.throughput, row?.cpuCores, row?.peakRssMiB]) {
          expect(Number.isFinite(v) && (v as number) > 0, `${s} at ${c}`).toBe(true);
        }
        expect(Number.isFinite(row?.cpuMsPerTurn) && (row?.cpuMsPerTurn as number) > 0, `${s} at ${c}: CPU ms per turn`).toBe(true);
      }
    }
  });

  it("takes the single measurements and judges every target", () => {
    expect(report.findOneAndUpdate.p50).toBeGreaterThan(0);
    expect(report.bytesPerTurn.switchboard).toBeGreaterThan(0);
    expect(report.bytesPerTurn.langgraph).toBeGreaterThan(0);
    expect(report.engine.switchboard.p50).toBeGreaterThan(0);
    expect(report.engine.langgraph.p50).toBeGreaterThan(0);
    for (const bare of ["bare-connect", "bare-grpc-js"]) {
      expect(report.capacity[bare]?.available).toBe(true);
      expect(report.capacity[bare]?.failed).toBe(0);
    }
    // Until the orchestrator serves Converse, capacity says so instead of failing.
    expect(report.capacity["switchboard"]?.available).toBe(report.converse);
    expect(report.targets.map((t) => t.name)).toEqual(expect.arrayContaining(["Throughput at saturation", "Engine overhead alone", "Idle stream memory"]));
  });

  it("times switchboard serve from spawn to SERVING, built and through tsx", () => {
    for (const key of ["built", "tsx"]) {
      const s = report.startup.find((x) => x.key === key);
      expect(s?.failed, `${key}: ${s?.firstError}`).toBe(0);
      expect(s?.summary.count, key).toBe(report.plan["starts"]);
      for (const v of [s?.summary.p50, s?.summary.max]) expect(Number.isFinite(v) && (v as number) > 0, key).toBe(true);
    }
    expect(report.targets.map((t) => t.name)).toContain("Start to SERVING, idle");
    expect(readFileSync(join(out, "latest.md"), "utf8")).toContain("## Start to SERVING");
  });

  it("runs the startup scenario alone with --only startup", { timeout: 120_000 }, async () => {
    const { stdout } = await run("npm", ["run", "-s", "bench", "--", "--quick", "--only", "startup", "--out", out], { cwd: repoRoot, timeout: 110_000 });
    expect(stdout).toContain("## Start to SERVING");
    expect(stdout).toMatch(/^\| Start to SERVING, idle \| p50 < 0\.5 s \| p50 [\d.]+ ms, max [\d.]+ ms \|/m);
  });

  it("profiles scenario C with --profile C: the orchestrator's and the agent's profile, flame graph and summary", { timeout: 120_000 }, async () => {
    const { stdout } = await run("npm", ["run", "-s", "bench", "--", "--quick", "--profile", "C", "--out", out], { cwd: repoRoot, timeout: 110_000 });
    const dir = join(out, "profiles", "C");
    for (const role of ["orchestrator", "agent"]) {
      const profile = JSON.parse(readFileSync(join(dir, `${role}.cpuprofile`), "utf8")) as { nodes: unknown[]; samples: unknown[] };
      expect(profile.nodes.length, role).toBeGreaterThan(0);
      expect(profile.samples.length, role).toBeGreaterThan(0);
      expect(readFileSync(join(dir, `${role}.svg`), "utf8"), role).toMatch(/^<svg [\s\S]*<title>[\s\S]*<\/svg>\n$/);
    }
    const summary = readFileSync(join(dir, "summary.md"), "utf8");
    expect(stdout).toBe(summary);
    expect(summary).toMatch(/## Orchestrator \(switchboard serve\)\n\nCPU [\d.]+ ms per turn[\s\S]*\| function \(self\) \|/);
    expect(summary).toMatch(/## Agent \(echo, agent SDK\)\n\nCPU [\d.]+ ms per turn[\s\S]*\| function \(self\) \|/);
  });

  it("type-checks (the benchmark imports the product's code)", { timeout: 120_000 }, async () => {
    await run(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", "bench/tsconfig.json"], { cwd: repoRoot, timeout: 110_000 });
  });
});
