import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { docSection, readDoc } from "./support/docs.js";
import { jsonLine, type Proc, repoRoot, startSwitchboard } from "./support/process.js";

const run = promisify(execFile);
const readme = readDoc("README.md");
// The settings table and the config file example live with the rest of the
// operations guide.
const operations = readDoc("docs/operations.md");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };

/**
 * The README's promises: its first commands are the two that matter, and
 * its five-minute tour works as written against what `npm start` runs.
 */
describe("README", () => {
  it("opens with the install-and-run and the test command, which package.json and .ci/run back", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const commands = firstBlock.split("\n").filter((l) => l.trim() !== "").map((l) => l.split("#")[0]?.trim());
    expect(commands).toEqual(["npm ci && npm start", "npm ci && npm test"]);
    expect(pkg.scripts["start"]).toBe("npm run -s build && node bin/switchboard.js demo");
    expect(readFileSync(join(repoRoot, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });

  describe("five-minute tour with grpcurl", () => {
    const grpcurl = inject("grpcurl");
    let demo: Proc;
    let port = 0;

    beforeAll(async () => {
      // What `npm start` runs, on a free port.
      demo = startSwitchboard(["demo", "--port", "0"]);
      const line = await demo.waitForLine((l) => jsonLine(l)?.["msg"] === "listening");
      port = Number(jsonLine(line)?.["port"]);
    });

    afterAll(async () => {
      await demo?.stop();
    });

    const section = docSection(readme, "## A five-minute tour with grpcurl");
    const commands = [...section.matchAll(/^(grpcurl|curl) .*$/gm)].map((m) => m[0]);

    it("has commands to run", () => {
      expect(commands.length).toBeGreaterThanOrEqual(8);
    });

    it("runs every command as written", async () => {
      for (const command of commands) {
        const adapted = command.replaceAll("localhost:50051", `127.0.0.1:${port}`).replace(/^grpcurl /, `'${grpcurl}' `);
        const { stdout } = await run("bash", ["-c", adapted], { timeout: 20_000 }).catch((e: unknown) => {
          throw new Error(`README command failed: ${command}\n${String((e as { stderr?: string }).stderr ?? e)}`);
        });
        expect(stdout.length, command).toBeGreaterThan(0);
      }
    });
  });
});

describe("docs/operations.md settings table", () => {
  it("documents every setting of switchboard serve with its flag, variable and file key", async () => {
    const { serveOptions } = await import("../src/cli/serve-settings.js");
    for (const o of serveOptions) {
      const row = operations.split("\n").find((l) => l.startsWith(`| \`--${o.flag}`));
      expect(row, o.flag).toBeDefined();
      expect(row).toContain(`\`${o.env}\``);
      expect(row).toContain(`\`${o.key}\``);
    }
  });
});

describe("docs/operations.md config file example", () => {
  it("is a config file switchboard serve accepts", async () => {
    const { loadServeSettings } = await import("../src/cli/serve-settings.js");
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const yaml = /A config file for a production-like setup:\n\n```yaml\n([\s\S]*?)```/.exec(operations)?.[1];
    expect(yaml).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "switchboard-readme-"));
    try {
      writeFileSync(join(dir, "switchboard.yaml"), yaml as string);
      const { settings } = loadServeSettings(["--config", join(dir, "switchboard.yaml")], {});
      expect(settings["limits.turnsPerSecond"]).toBe(20);
      expect(settings["redaction.patterns"]).toEqual(["card", "account=\\bACC-\\d{6,}\\b"]);
      expect(settings["agents"]).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
