import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ConformanceReport } from "../src/conformance/run-conformance.js";
import { serveDeafAgent } from "./fixtures/agents/deaf-agent.js";
import {
  builtEntry,
  repoRoot,
  type RunningAgentProcess,
  startEchoAgentProcess,
  startGoAgentProcess,
  startPythonAgentProcess,
} from "./support/process.js";
import { startJavaAgentProcess } from "./support/sdk-project.js";

const run = promisify(execFile);

const checkNames = ["describe", "health", "turn", "stream", "cancel", "deadline", "bad-request"];

/**
 * runKit runs the built conformance command as a user does (`npm run
 * conformance -- URL` runs src/conformance/main.ts, compiled) and returns
 * its exit code and output.
 */
async function runKit(args: string[], entry = "src/conformance/main.ts"): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [builtEntry(entry), ...args], { cwd: repoRoot, timeout: 60_000 });
    return { code: 0, stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== "number") throw e;
    return { code: err.code, stdout: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

function statusOf(stdout: string, check: string): string | undefined {
  return new RegExp(`^(PASS|FAIL|SKIP) {2}${check} `, "m").exec(stdout)?.[1];
}

/**
 * The conformance kit against real agent processes in four languages, and
 * against an agent that ignores cancellation.
 */
describe("conformance kit", () => {
  let ts: RunningAgentProcess;
  let python: RunningAgentProcess;
  let go: RunningAgentProcess;
  let java: RunningAgentProcess;
  let deaf: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    [ts, python, go, java, deaf] = await Promise.all([
      startEchoAgentProcess(),
      startPythonAgentProcess(inject("python")),
      startGoAgentProcess(inject("goAgent")),
      startJavaAgentProcess(inject("sdks").javaSampleClasspath),
      serveDeafAgent(),
    ]);
  });

  afterAll(async () => {
    await Promise.all([ts?.stop(), python?.stop(), go?.stop(), java?.stop(), deaf?.close()]);
  });

  it.each([
    ["TypeScript", () => ts.url],
    ["Python", () => python.url],
    ["Go", () => go.url],
    ["Java", () => java.url],
  ])("passes every check on the %s agent", async (_, url) => {
    const { code, stdout } = await runKit([url()]);
    for (const check of checkNames) expect(statusOf(stdout, check), `${check}\n${stdout}`).toBe("PASS");
    expect(stdout).toMatch(/^7 passed, 0 failed, 0 skipped$/m);
    expect(code, stdout).toBe(0);
  });

  it("fails an agent that ignores cancellation, saying so, and exits 1", async () => {
    const { code, stdout } = await runKit([deaf.url]);
    expect(code, stdout).toBe(1);
    expect(statusOf(stdout, "cancel")).toBe("FAIL");
    expect(stdout).toContain(
      "the agent ignores cancellation: 1000ms after CancelTurn it was still streaming",
    );
    expect(stdout).toContain("end the stream with CANCELLED as soon as a CancelTurn arrives");
    expect(statusOf(stdout, "deadline")).toBe("FAIL");
    expect(stdout).toContain("the agent ignores its deadline: 1000ms after its 500ms budget ran out it was still working");
    // What it does right is still reported as right.
    for (const check of ["describe", "health", "turn", "stream", "bad-request"]) {
      expect(statusOf(stdout, check), `${check}\n${stdout}`).toBe("PASS");
    }
    expect(stdout).toMatch(/^5 passed, 2 failed, 0 skipped$/m);
  });

  it("is also `switchboard conformance`, with a JSON report", async () => {
    const { code, stdout } = await runKit(["conformance", "--json", go.url], "src/cli/main.ts");
    expect(code, stdout).toBe(0);
    const report = JSON.parse(stdout) as ConformanceReport;
    expect(report.ok).toBe(true);
    expect(report.endpoint).toBe(go.url);
    expect(report.results.map((r) => [r.name, r.status])).toEqual(checkNames.map((n) => [n, "pass"]));
  });

  it("says plainly when nothing answers at the URL", async () => {
    const { code, stdout } = await runKit(["http://127.0.0.1:1"]);
    expect(code).toBe(1);
    expect(stdout).toContain("cannot reach the agent: UNAVAILABLE");
    expect(stdout).toMatch(/^0 passed, 7 failed, 0 skipped$/m);
  });

  it("refuses bad usage with exit code 2 and the usage text", async () => {
    const { code, stdout } = await runKit(["not-a-url"]);
    expect(code).toBe(2);
    expect(stdout).toContain("give one agent URL, e.g. http://127.0.0.1:7001");
  });
});
