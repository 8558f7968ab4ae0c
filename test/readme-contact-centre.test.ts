import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { jsonLine, type Proc, repoRoot, startTs } from "./support/process.js";

const run = promisify(execFile);
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const start = readme.indexOf("## The contact-centre flow");
const section = readme.slice(start, readme.indexOf("\n## ", start + 1));

/**
 * The README's contact-centre walk-through works as written against what
 * `npm start` runs, and the summary it shows is the one the call gets.
 */
describe("README contact-centre walk-through", () => {
  const grpcurl = inject("grpcurl");
  let demo: Proc;
  let port = 0;

  beforeAll(async () => {
    demo = startTs("src/cli/main.ts", ["demo", "--port", "0"]);
    const line = await demo.waitForLine((l) => jsonLine(l)?.["msg"] === "listening");
    port = Number(jsonLine(line)?.["port"]);
  });

  afterAll(async () => {
    await demo?.stop();
  });

  const commands = [...section.matchAll(/^grpcurl .*$/gm)].map((m) => m[0]);
  const grpc = async (command: string) => {
    const adapted = command.replaceAll("localhost:50051", `127.0.0.1:${port}`).replace(/^grpcurl /, `'${grpcurl}' `);
    const { stdout } = await run("bash", ["-c", adapted], { timeout: 20_000 }).catch((e: unknown) => {
      throw new Error(`README command failed: ${command}\n${String((e as { stderr?: string }).stderr ?? e)}`);
    });
    return stdout;
  };

  it("runs every command as written, and the call ends with the summary shown", async () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const outputs: string[] = [];
    for (const command of commands) outputs.push(await grpc(command));
    expect(outputs[2]).toContain('"nextStage": "approval"');
    expect(outputs[3]).toContain('"reason": "supervisor approval for a refund above 100.00"');
    expect(outputs[4]).toContain("The refund was approved by supervisor-7.");
    const session = (JSON.parse(outputs[6] ?? "{}") as { session: { summary: Record<string, unknown> } }).session;
    const shown = /"summary": \{\n([\s\S]*?)\n\s*\.\.\./.exec(section)?.[1] ?? "";
    const expected = JSON.parse(`{${shown.trim().replace(/,$/, "")}}`) as Record<string, unknown>;
    expect(Object.keys(expected)).toEqual(["outcome", "stages", "intents", "agents", "turns"]);
    for (const [key, value] of Object.entries(expected)) expect(session.summary[key], key).toEqual(value);
  });

  it("shows refused turns as they are refused", async () => {
    const shown = [...section.matchAll(/^\$ (grpcurl .*)$/gm)].map((m) => m[1] ?? "");
    expect(shown).toHaveLength(2);
    await grpc(shown[0] ?? "");
    const adapted = (shown[1] ?? "").replaceAll("localhost:50051", `127.0.0.1:${port}`).replace(/^grpcurl /, `'${grpcurl}' `);
    const err = await run("bash", ["-c", adapted]).then(
      () => undefined,
      (e: unknown) => e as { stderr: string },
    );
    expect(err?.stderr).toContain('Message: intent "refund" is not allowed at stage "authentication"; allowed: verify_identity');
  });
});
