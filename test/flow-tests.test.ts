import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/switchboard.js";
import { runCase } from "../src/testing/case-run.js";
import { FlowCoverage } from "../src/testing/flow-coverage.js";
import { planSuite } from "../src/testing/test-suite.js";
import { docSection, readDoc } from "./support/docs.js";
import { repoRoot } from "./support/process.js";

const run = promisify(execFile);

async function runCli(argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: "", err: "" };
  out.on("data", (c: Buffer) => (chunks.out += c.toString()));
  err.on("data", (c: Buffer) => (chunks.err += c.toString()));
  const code = await main(argv, { out, err, env: {} });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

const suite = join(repoRoot, "flows/tests");
const tmp = mkdtempSync(join(tmpdir(), "switchboard-flow-tests-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * plantedFlows writes the contact-centre flow, changed by `change`, into a
 * flow directory of its own.
 */
function plantedFlows(name: string, change: (yaml: string) => string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const original = readFileSync(join(repoRoot, "flows/contact-centre.yaml"), "utf8");
  const changed = change(original);
  expect(changed).not.toBe(original);
  writeFileSync(join(dir, "contact-centre.yaml"), changed);
  return dir;
}

// The broken change: an approved refund goes to closing instead of fulfilment.
const approvedToClosing = (yaml: string) =>
  yaml.replace("      - to: fulfilment\n        when: has(state.approved) && state.approved", "      - to: closing\n        when: has(state.approved) && state.approved");

/**
 * `switchboard test` runs the contact-centre suite (flows/tests) on the
 * engine in memory, and its reports are what CI systems need.
 */
describe("switchboard test", () => {
  it("passes the contact-centre suite with full stage and transition coverage", async () => {
    const { code, stdout, stderr } = await runCli(["test", suite]);
    expect(stderr).toBe("");
    expect(code, stdout).toBe(0);
    const cases = stdout.split("\n").filter((l) => /^ {2}(ok |FAIL)/.test(l));
    expect(cases.length).toBeGreaterThanOrEqual(10);
    expect(cases.every((l) => l.startsWith("  ok "))).toBe(true);
    expect(stdout).toMatch(/stages +8\/8 entered \(100%\)/);
    expect(stdout).toMatch(/transitions +13\/13 taken \(100%\)/);
    expect(stdout).not.toContain("never entered");
    expect(stdout).not.toContain("never taken");
  });

  it("fails exactly the cases that cover a transition planted to the wrong stage, showing the mismatch", async () => {
    // Which cases take approval → fulfilment, by the engine's own coverage of each case alone.
    const plan = planSuite({ paths: [suite] });
    const covering: string[] = [];
    for (const { testCase, flow } of plan.cases) {
      const coverage = new FlowCoverage(flow);
      await runCase(testCase, flow, { coverage });
      const route = coverage.report().sections.transitions.find((t) => t.label.startsWith("approval → fulfilment"));
      if ((route?.hits ?? 0) > 0) covering.push(testCase.name);
    }
    expect(covering.length).toBeGreaterThan(0);
    expect(covering.length).toBeLessThan(plan.cases.length);

    const flows = plantedFlows("wrong-stage", approvedToClosing);
    const json = await runCli(["test", suite, "--flows", flows, "--json"]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { cases: Array<{ name: string; passed: boolean; mismatch?: { turn: number; what: string; expected: string; actual: string } }> };
    expect(report.cases.filter((c) => !c.passed).map((c) => c.name)).toEqual(covering);

    const text = await runCli(["test", suite, "--flows", flows]);
    expect(text.code).toBe(1);
    const failed = report.cases.find((c) => !c.passed)?.mismatch;
    expect(failed).toBeDefined();
    expect(text.stdout).toContain(`FAIL ${covering[0]}`);
    expect(text.stdout).toContain(`turn ${failed?.turn} (${join(suite, "contact-centre.yaml")}:`);
    expect(text.stdout).toContain(`expected: ${failed?.expected}`);
    expect(text.stdout).toContain(`actual:   ${failed?.actual}`);
  });

  it("runs the commands of docs/testing.md as written, with the output shown there", async () => {
    const section = docSection(readDoc("docs/testing.md"), "## Running the tests");
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] ?? "").split("\n").filter((l) => l.trim() !== ""));
    expect(commands).toEqual(["npx switchboard test flows/tests"]);
    const argv = (commands[0] ?? "").replace(/^npx switchboard /, "").split(" ").map((a) => (a === "flows/tests" ? suite : a));
    const { code, stdout } = await runCli(argv);
    expect(code).toBe(0);
    // The coverage shown is the coverage the suite has.
    const shown = /```\n([\s\S]*?)```/.exec(section.slice(section.indexOf("One line per case")))?.[1] ?? "";
    const coverage = (text: string) => text.split("\n").filter((l) => /^ {2}(stages|transitions|intents|checks) /.test(l));
    expect(coverage(shown)).toEqual(coverage(stdout));
    expect(coverage(shown)).toHaveLength(4);
  });

  it("writes JUnit XML that a standard XML parser reads, counting the same cases", async () => {
    const flows = plantedFlows("junit", approvedToClosing);
    const file = join(tmp, "junit.xml");
    const { code, stdout } = await runCli(["test", suite, "--flows", flows, "--junit", file, "--json"]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { passed: number; failed: number; cases: unknown[] };
    const python = [
      "import json, sys, xml.etree.ElementTree as ET",
      "root = ET.parse(sys.argv[1]).getroot()",
      "cases = root.findall('./testsuite/testcase')",
      "print(json.dumps({'tag': root.tag, 'tests': int(root.get('tests')), 'failures': int(root.get('failures')), 'testcases': len(cases), 'failed': sum(1 for c in cases if c.find('failure') is not None)}))",
    ].join("\n");
    const parsed = JSON.parse((await run("python3", ["-c", python, file])).stdout) as Record<string, unknown>;
    expect(parsed).toEqual({ tag: "testsuites", tests: report.cases.length, failures: report.failed, testcases: report.cases.length, failed: report.failed });
    expect(report.failed).toBeGreaterThan(0);
  });

  it("refuses case files with problems, each with its file and line, with exit code 2", async () => {
    const dir = join(tmp, "bad");
    mkdirSync(join(dir, "tests"), { recursive: true });
    copyFileSync(join(repoRoot, "flows/contact-centre.yaml"), join(dir, "contact-centre.yaml"));
    const file = join(dir, "tests", "bad.yaml");
    writeFileSync(
      file,
      [
        "flow: contact-centre@1",
        "cases:",
        "  - name: broken",
        "    turns:",
        "      - text: hello",
        "        expect: { stage: lookup, colour: blue }",
        "      - text: hi",
        "        expect: { state: 'state.verified ==' }",
        "",
      ].join("\n"),
    );
    const other = join(dir, "tests", "stage.yaml");
    writeFileSync(other, ["flow: contact-centre", "cases:", "  - name: lost", "    turns:", "      - text: hello", "        expect:", "          stage: nowhere", ""].join("\n"));
    const { code, stdout, stderr } = await runCli(["test", join(dir, "tests")]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(`${file}:6: case "broken": unknown field "colour" in expect`);
    expect(stderr).toContain(`${file}:8: case "broken": state check "state.verified ==":`);
    expect(stderr).toContain(`${other}:7: case "lost": expect.stage "nowhere" is not a stage of flow contact-centre@1`);
  });
});
