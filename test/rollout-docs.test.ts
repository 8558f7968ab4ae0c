import { exec } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { docSection, readDoc } from "./support/docs.js";
import { jsonLine, type Proc, repoRoot, startCommand } from "./support/process.js";

const sh = promisify(exec);
const section = docSection(readDoc("docs/rollouts.md"), "## A rollout from start to finish");

/** The ```sh lines of the section, in order. */
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] ?? "").split("\n").filter((l) => l.trim() !== ""));

/**
 * normalise makes output comparable across runs: times, durations and the
 * start of the stats window differ from run to run; everything else (which
 * version each call gets, the counts, rates and intervals) is the same.
 */
const normalise = (text: string) =>
  text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
    .replace(/\b\d+\.\d+s\b/g, "<duration>")
    .replace(/[ \t]+/g, " ")
    .trim();

/**
 * The rollout walk-through of docs/rollouts.md works as written against
 * the demo it starts: each command runs in order (the demo's port in
 * place of 50051), and every line each prints is in the document.
 */
describe('docs/rollouts.md "## A rollout from start to finish"', () => {
  let demo: Proc;
  let port = 0;

  beforeAll(async () => {
    const start = commands[0] ?? "";
    expect(start).toBe("npx switchboard demo --flows examples/rollout");
    demo = startCommand("bash", ["-c", `cd '${repoRoot}' && ${start} --port 0`], {}, "rollout demo");
    port = Number(jsonLine(await demo.waitForLine((l) => jsonLine(l)?.["msg"] === "listening", 60_000))?.["port"]);
  }, 90_000);

  afterAll(async () => {
    await demo?.stop();
  });

  it("runs each command and prints what the document shows", async () => {
    const shown = section.split("\n").map(normalise);
    const env = { ...process.env, SWITCHBOARD_SERVER: `http://127.0.0.1:${port}` };
    expect(commands.length).toBeGreaterThan(8);
    for (const command of commands.slice(1)) {
      const adapted = command.replaceAll("localhost:50051", `127.0.0.1:${port}`).replace(/\bgrpcurl /g, `'${inject("grpcurl")}' `);
      const out = await sh(adapted, { cwd: repoRoot, env, timeout: 120_000 }).then(
        (r) => r.stdout + r.stderr,
        (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
      );
      for (const line of out.split("\n").map(normalise).filter((l) => l !== "")) {
        expect(shown, `${command} printed`).toContain(line);
      }
    }
  }, 300_000);
});
