import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { docSection, readDoc } from "./support/docs.js";
import { jsonLine, type Proc, startSwitchboard } from "./support/process.js";

const run = promisify(execFile);
// The walk-through of the reference flow lives in the flows guide, which
// the README links to.
const section = docSection(readDoc("docs/flows.md"), "## The contact-centre flow");

/**
 * The contact-centre walk-through (docs/flows.md) works as written against what
 * `npm start` runs, and the summary it shows is the one the call gets.
 */
describe("docs/flows.md contact-centre walk-through", () => {
  const grpcurl = inject("grpcurl");
  let demo: Proc;
  let port = 0;

  beforeAll(async () => {
    demo = startSwitchboard(["demo", "--port", "0"]);
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
      throw new Error(`docs/flows.md command failed: ${command}\n${String((e as { stderr?: string }).stderr ?? e)}`);
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
