import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot, switchboardCommand } from "./support/process.js";

const exec = promisify(execFile);
const fixtures = "test/fixtures/flows";

/** switchboard runs the built command as its own process and returns its exit code and output. */
async function switchboard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [switchboardCommand, ...args], { cwd: repoRoot, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/** Every problem planted in a YAML fixture, from its `# problem: TEXT` markers. */
function plantedInYaml(): Array<{ where: string; text: string }> {
  const planted: Array<{ where: string; text: string }> = [];
  for (const name of readdirSync(join(repoRoot, fixtures)).filter((n) => n.endsWith(".yaml")).sort()) {
    const file = `${fixtures}/${name}`;
    readFileSync(join(repoRoot, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const m of line.matchAll(/# problem: (.*?)(?=\s+# problem:|$)/g)) planted.push({ where: `${file}:${i + 1}:`, text: (m[1] ?? "").trim() });
      });
  }
  return planted;
}

// JSON holds no comments: the planted problems of the JSON fixture.
const plantedInJson = [
  { where: `${fixtures}/broken.json:8:`, text: 'unknown field "fallbackAgnet" in Stage (did you mean fallback_agent?)' },
  { where: `${fixtures}/broken.json:9:`, text: 'transition to unknown stage "missing"' },
];

describe("switchboard flow validate", () => {
  it("reports every planted problem of the broken fixtures, each with its file and line, and exits 1", async () => {
    const planted = [...plantedInYaml(), ...plantedInJson];
    expect(planted.length).toBeGreaterThanOrEqual(30);
    const { code, stdout, stderr } = await switchboard("flow", "validate", "--agent", "bot", fixtures);
    expect(code).toBe(1);
    const reported = stdout.trim().split("\n");
    for (const p of planted) {
      const line = reported.find((r) => r.startsWith(p.where) && r.includes(p.text));
      expect(line, `${p.where} ${p.text}\nreported:\n${stdout}`).toBeDefined();
    }
    // Nothing but the planted problems, and each line names its stage or the flow.
    expect(reported).toHaveLength(planted.length);
    for (const r of reported) expect(r).toMatch(/^test\/fixtures\/flows\/[\w-]+\.(yaml|json):\d+: (stage [\w-]+|flow): \S/);
    // twin-a.yaml is sound on its own; twin-b.yaml repeats its id and version.
    expect(stderr).toContain(`${planted.length} problems in 8 file(s)`);
  });

  it("checks agents only when told which exist", async () => {
    const without = await switchboard("flow", "validate", `${fixtures}/unknown-agents.yaml`);
    expect(without.code).toBe(0);
    expect(without.stdout).toBe(`${fixtures}/unknown-agents.yaml: ok (flow unknown-agents@1, 3 stages)\n`);
    const withAgents = await switchboard("flow", "validate", "--agent", "bot=http://127.0.0.1:1", `${fixtures}/unknown-agents.yaml`);
    expect(withAgents.code).toBe(1);
    expect(withAgents.stdout.trim().split("\n")).toHaveLength(4);
  });

  it("passes the shipped flows and exits 0", async () => {
    const agents = ["echo", "greeting", "auth", "triage", "fallback", "refund", "billing", "booking", "complaint", "account", "balance", "approval", "human-desk", "closing"];
    const { code, stdout } = await switchboard("flow", "validate", ...agents.flatMap((a) => ["--agent", a]), "flows");
    expect(code).toBe(0);
    expect(stdout).toBe("flows/assistant.json: ok (flow assistant@1, 2 stages)\nflows/contact-centre.yaml: ok (flow contact-centre@1, 8 stages)\n");
  });

  it("exits 2 on a usage error", async () => {
    const { code, stderr } = await switchboard("flow", "validate");
    expect(code).toBe(2);
    expect(stderr).toContain("name at least one flow file or directory");
  });
});
