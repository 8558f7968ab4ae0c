import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { docSection, readDoc, shellCommands } from "./support/docs.js";
import { jsonLine, type Proc, repoRoot, startSwitchboard, switchboardCommand } from "./support/process.js";

const run = promisify(execFile);
const heading = "## A migration from start to finish";
const doc = readDoc("docs/flow-migration.md");
const section = docSection(doc, heading);
const commands = shellCommands()
  .filter((c) => c.file === "docs/flow-migration.md" && c.heading === heading)
  .map((c) => c.command);
/** The plain blocks (no language) of the section: what a terminal shows. */
const shown = plainBlocks(section);

function plainBlocks(text: string): string[] {
  const blocks: string[] = [];
  let fence: string | undefined;
  let lines: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("```")) {
      if (fence === "") lines.push(line);
      continue;
    }
    if (fence === undefined) {
      fence = line.slice(3).trim();
      lines = [];
    } else {
      if (fence === "") blocks.push(`${lines.join("\n")}\n`);
      fence = undefined;
    }
  }
  return blocks;
}

/** The one command matching `pattern`. */
function command(pattern: RegExp): string {
  const found = commands.filter((c) => pattern.test(c));
  expect(found, String(pattern)).toHaveLength(1);
  return found[0] ?? "";
}

/** The one shown block starting with `start`. */
function block(start: string): string {
  const found = shown.filter((b) => b.startsWith(start));
  expect(found, start).toHaveLength(1);
  return found[0] ?? "";
}

// Timestamps and latencies differ from run to run; the rest must not.
const normal = (line: string) =>
  line
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "TIME")
    .replace(/ ok +\d+ /, " ok N ")
    .replace(/\s+/g, " ")
    .trim();

/** Each shown line (but "...") appears in the output, in order. */
function expectShown(shownBlock: string, output: string): void {
  const actual = output.split("\n").map(normal);
  let at = 0;
  for (const line of shownBlock.split("\n").filter((l) => l !== "" && l !== "...")) {
    const i = actual.indexOf(normal(line), at);
    expect(i, `shown line not in the output, in order:\n${line}\noutput:\n${output}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

/**
 * docs/flow-migration.md walks through a migration with real commands: they
 * run here as written (the port, the flow directory and the built command
 * adapted), and what the page shows is what they print.
 */
describe("docs/flow-migration.md", () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-migration-docs-"));
  const flows = join(dir, "flows");
  let demo: Proc | undefined;
  let port = 0;

  const adapt = (line: string) =>
    line
      .replaceAll("/tmp/switchboard-flows", flows)
      .replaceAll("localhost:50051", `127.0.0.1:${port}`)
      .replace(/^grpcurl /, `'${inject("grpcurl")}' `)
      .replace(/^npx switchboard /, `'${process.execPath}' '${switchboardCommand}' `);
  const sh = async (line: string) => {
    try {
      const { stdout, stderr } = await run("bash", ["-c", adapt(line)], { cwd: repoRoot, timeout: 60_000, env: { ...process.env, SWITCHBOARD_SERVER: `http://127.0.0.1:${port}` } });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
    }
  };

  beforeAll(async () => {
    const setup = await sh(command(/^mkdir -p /));
    expect(setup.code, setup.stderr).toBe(0);
    expect(command(/ demo /)).toBe("npx switchboard demo --flows /tmp/switchboard-flows");
    demo = startSwitchboard(["demo", "--flows", flows, "--port", "0"]);
    port = Number(jsonLine(await demo.waitForLine((l) => jsonLine(l)?.["msg"] === "listening"))?.["port"]);
  });

  afterAll(async () => {
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("declares the migration the example version 2 holds", () => {
    const yaml = /^```yaml\n([\s\S]*?)^```$/m.exec(docSection(doc, "## Declaring a migration"))?.[1] ?? "";
    expect(yaml).toContain("migrations:");
    expect(readFileSync(join(repoRoot, "examples/migration/contact-centre-v2.yaml"), "utf8")).toContain(yaml);
  });

  it("runs every command as written, and each prints what the page shows", async () => {
    const turns = commands.filter((c) => c.endsWith("/SendTurn") && !c.includes("approval.granted"));
    expect(turns).toHaveLength(9);
    for (const turn of turns) expect((await sh(turn)).code, turn).toBe(0);

    const validate = await sh(command(/ flow validate /));
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toBe(block("flows/contact-centre.yaml: ok"));
    expect((await sh(command(/^cp examples/))).code).toBe(0);
    expect(JSON.parse((await sh(command(/\/ReloadFlows$/))).stdout)).toEqual({
      added: ["contact-centre@2"],
      loaded: ["assistant@1", "contact-centre@1", "contact-centre@2"],
    });

    const before = await sh("grpcurl -plaintext -d '{\"session_id\":\"call-8\"}' localhost:50051 switchboard.v1.OrchestratorService/ListSnapshots");
    const dryRun = await sh(command(/--dry-run$/));
    expect(dryRun.code).toBe(1);
    expectShown(block("SESSION  FROM           TO                        RESULT               PATH ON"), dryRun.stdout);

    const one = await sh(command(/migrate call-7 /));
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(block("SESSION  FROM           TO                        RESULT\ncall-7"));
    expectShown(block("session     call-7\ntenant      (none)\naccount     web-7\nflow        contact-centre@2"), (await sh(command(/sessions show call-7$/))).stdout);
    const approved = await sh(command(/approval\.granted/));
    expect(JSON.parse(approved.stdout)).toMatchObject({ nextStage: "closing", session: { flowVersion: "2" } });
    expectShown(block("VERSION  KIND"), (await sh(command(/sessions steps call-7$/))).stdout);

    const batch = await sh(command(/--status waiting --to-version 2$/));
    expect(batch.code).toBe(1);
    expect(batch.stdout).toBe(block("SESSION  FROM           TO                        RESULT\ncall-9"));

    const refusal = block("$ grpcurl ");
    const refused = await sh(/^\$ (.*)$/m.exec(refusal)?.[1] ?? "");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(/Message: .*$/m.exec(refusal)?.[0] ?? "(no message shown)");
    // Refused twice, call-8 is as it was.
    expect((await sh("grpcurl -plaintext -d '{\"session_id\":\"call-8\"}' localhost:50051 switchboard.v1.OrchestratorService/ListSnapshots")).stdout).toBe(before.stdout);

    expectShown(block("VERSION  REASON"), (await sh(command(/sessions snapshots call-7$/))).stdout);
    const rollback = await sh(command(/sessions rollback call-7 3$/));
    expect(rollback.stdout).toBe(block("session call-7 rolled back"));
    const session = JSON.parse((await sh("npx switchboard sessions show call-7 --json")).stdout) as { flowVersion: string; stage: string };
    expect(session).toMatchObject({ flowVersion: "1", stage: "approval" });
  }, 120_000);

  it("shows the problem flow validate reports for a misspelt stage in the map", async () => {
    const problem = block("examples/migration/contact-centre-v2.yaml:21:").trim();
    const copy = join(dir, "typo");
    mkdirSync(join(copy, "examples/migration"), { recursive: true });
    cpSync(join(repoRoot, "flows"), join(copy, "flows"), { recursive: true });
    const v2 = readFileSync(join(repoRoot, "examples/migration/contact-centre-v2.yaml"), "utf8");
    writeFileSync(join(copy, "examples/migration/contact-centre-v2.yaml"), v2.replace("      approval: supervisor_approval\n", "      approval: supervisor_approval\n      aproval: supervisor_approval\n"));
    const out = await run(process.execPath, [switchboardCommand, "flow", "validate", "flows/contact-centre.yaml", "examples/migration/contact-centre-v2.yaml"], { cwd: copy }).then(
      () => ({ stdout: "" }),
      (e: unknown) => e as { stdout: string },
    );
    expect(out.stdout.trim()).toBe(problem);
  });
});
