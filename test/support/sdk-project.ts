import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";
import type { ConformanceReport } from "../../src/conformance/run-conformance.js";
import { type Proc, repoRoot, startCommand } from "./process.js";

const run = promisify(execFile);

/**
 * checkNames are the conformance kit's checks, in the order it reports them.
 */
export const checkNames = ["describe", "health", "turn", "stream", "cancel", "deadline", "bad-request"];

/**
 * emptyProject makes a temporary directory outside the repository, for a
 * project that knows the SDK only as an installed package.
 */
export function emptyProject(language: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `switchboard-${language}-agent-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * readmeAgent returns the complete agent of an SDK's README: its first
 * code block in the given language. The tests build exactly what the
 * README shows.
 */
export function readmeAgent(readme: string, language: string): string {
  const text = readFileSync(join(repoRoot, readme), "utf8");
  const block = new RegExp("```" + language + "\\n([\\s\\S]*?)```").exec(text)?.[1];
  if (block === undefined) throw new Error(`${readme} has no \`\`\`${language} block`);
  return block;
}

/**
 * writeFiles writes files (path relative to dir → content).
 */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
}

/**
 * sh runs a command in dir and returns its output; a failure carries the
 * command's output.
 */
export async function sh(dir: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: dir,
      env: { ...process.env, ...env },
      timeout: 300_000,
      maxBuffer: 16 << 20,
    });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${dir}: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

/**
 * freePort returns a loopback port that was free a moment ago.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * startAgent runs an agent program that listens on $PORT and resolves once
 * the port accepts connections.
 */
export async function startAgent(command: string, args: string[], label: string, env: NodeJS.ProcessEnv = {}): Promise<Proc & { url: string }> {
  const port = await freePort();
  const proc = startCommand(command, args, { PORT: String(port), ...env }, label);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      }).on("error", () => resolve(false));
    });
    if (open) break;
    const code = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 100, undefined))]);
    if (code !== undefined || Date.now() > deadline) {
      await proc.stop("SIGKILL");
      throw new Error(`${label} did not listen on port ${port} (${code === undefined ? "timed out" : `exited: ${String(code)}`}):\n${proc.lines.join("\n")}`);
    }
  }
  return Object.assign(proc, { url: `http://127.0.0.1:${port}` });
}

/**
 * conformance runs `switchboard conformance --json URL` and returns its
 * exit code and report.
 */
export async function conformance(url: string): Promise<{ code: number; report: ConformanceReport; output: string }> {
  let code = 0;
  let output: string;
  try {
    ({ stdout: output } = await run(process.execPath, ["bin/switchboard.js", "conformance", "--json", url], {
      cwd: repoRoot,
      timeout: 60_000,
    }));
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== "number") throw e;
    code = err.code;
    output = `${err.stdout ?? ""}${err.stderr ?? ""}`;
  }
  return { code, report: JSON.parse(output) as ConformanceReport, output };
}

/**
 * expectConformant runs `switchboard conformance` against the agent at url
 * and expects every check to pass, and the command to say so with status 0.
 */
export async function expectConformant(url: string): Promise<void> {
  const { code, report, output } = await conformance(url);
  expect(report.results.map((r) => [r.name, r.status]), output).toEqual(checkNames.map((n) => [n, "pass"]));
  expect(report.ok).toBe(true);
  expect(code).toBe(0);
}

/**
 * startJavaAgentProcess runs the sample Java agent (agents/java, built by
 * scripts/build-sdks.sh) on a free port.
 */
export async function startJavaAgentProcess(classpathFile: string, args: string[] = []): Promise<Proc & { url: string }> {
  const classpath = readFileSync(classpathFile, "utf8").trim();
  const proc = startCommand("java", ["-cp", classpath, "dev.switchboard.sample.SampleAgent", "--port", "0", ...args], {}, "java agent");
  const line = await proc.waitForLine((l) => l.includes('"msg":"agent listening"'), 60_000).catch(async (e: unknown) => {
    await proc.stop("SIGKILL");
    throw e;
  });
  return Object.assign(proc, { url: String((JSON.parse(line) as { url: string }).url) });
}
