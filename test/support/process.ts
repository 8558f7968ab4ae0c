import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/**
 * repoRoot is the repository's top directory.
 */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Proc is a child process started by a test, with its output lines kept.
 */
export interface Proc {
  readonly child: ChildProcess;
  /** Every line the process wrote to stdout and stderr. */
  readonly lines: string[];
  /** Resolves with the exit code (or signal name) once the process exits. */
  readonly exited: Promise<number | string>;
  /** waitForLine resolves with the first line (past or future) that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** stop sends a signal (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * startTs runs a TypeScript file of the repository as its own Node process,
 * through tsx: for the test-only programs under test/, which are not part
 * of the build. The product and its sample agents run built
 * (startSwitchboard, startBuilt), as users run them.
 */
export function startTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return startCommand(process.execPath, ["--import", "tsx", entry, ...args], env, entry);
}

/**
 * builtEntry is the compiled form, under dist/ (which the test setup
 * builds), of a TypeScript entry point of the product or of its sample
 * agents, e.g. "agents/echo/main.ts" → "dist/agents/echo/main.js".
 */
export function builtEntry(entry: string): string {
  return join("dist", entry.replace(/\.ts$/, ".js"));
}

/**
 * startBuilt runs the compiled form of a TypeScript entry point of the
 * product (see builtEntry) as its own Node process.
 */
export function startBuilt(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return startCommand(process.execPath, [builtEntry(entry), ...args], env, entry);
}

/**
 * switchboardCommand is the `switchboard` command's program, as npm
 * installs it: bin/switchboard.js, which runs the build in dist/.
 */
export const switchboardCommand = join(repoRoot, "bin/switchboard.js");

/**
 * startSwitchboard runs the built `switchboard` command with `args` as its
 * own Node process.
 */
export function startSwitchboard(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return startCommand(process.execPath, [switchboardCommand, ...args], env, `switchboard ${args[0] ?? ""}`.trim());
}

/**
 * startCommand runs any program from the repository's top directory, with
 * its output lines kept; `label` names it in errors.
 */
export function startCommand(command: string, args: string[], env: NodeJS.ProcessEnv = {}, label = command): Proc {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, SWITCHBOARD_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      for (const w of waiters) w(line);
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const waitForLine = (match: (line: string) => boolean, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find(match);
      if (seen !== undefined) return resolve(seen);
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching line from ${label} within ${timeoutMs}ms; output:\n${lines.join("\n")}`));
      }, timeoutMs);
      const check = (line: string) => {
        if (!match(line)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      void exited.then((code) => {
        if (!waiters.has(check)) return;
        clearTimeout(timer);
        waiters.delete(check);
        reject(new Error(`${label} exited (${code}) before printing the expected line; output:\n${lines.join("\n")}`));
      });
    });
  return {
    child,
    lines,
    exited,
    waitForLine,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * jsonLine parses a log line, or returns undefined for a line that is not JSON.
 */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Running is an orchestrator process that listens.
 */
export interface RunningOrchestrator extends Proc {
  readonly port: number;
  readonly url: string;
}

/**
 * startOrchestratorProcess runs `switchboard serve` on a free port and
 * resolves once it listens.
 */
export async function startOrchestratorProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningOrchestrator> {
  const proc = startSwitchboard(["serve", "--port", "0", ...args], env);
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "listening").catch(async (e: unknown) => {
    await proc.stop("SIGKILL"); // a process that never listened must not outlive the test
    throw e;
  });
  const port = Number(jsonLine(line)?.["port"]);
  return Object.assign(proc, { port, url: `http://127.0.0.1:${port}` });
}

/**
 * startEchoAgentProcess runs the sample echo agent on a free port.
 */
export async function startEchoAgentProcess(): Promise<Proc & { url: string }> {
  const proc = startBuilt("agents/echo/main.ts", []);
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "agent listening");
  return Object.assign(proc, { url: String(jsonLine(line)?.["url"]) });
}

/**
 * RunningAgent is an agent process that listens.
 */
export type RunningAgentProcess = Proc & { url: string };

async function listening(proc: Proc): Promise<RunningAgentProcess> {
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "agent listening");
  return Object.assign(proc, { url: String(jsonLine(line)?.["url"]) });
}

/**
 * startPythonAgentProcess runs the sample Python agent (agents/python) on a
 * free port with the interpreter of its virtual environment.
 */
export function startPythonAgentProcess(python: string, args: string[] = []): Promise<RunningAgentProcess> {
  return listening(startCommand(python, ["agents/python/sample_agent.py", ...args], {}, "python agent"));
}

/**
 * startGoAgentProcess runs the built sample Go agent on a free port.
 */
export function startGoAgentProcess(binary: string, args: string[] = []): Promise<RunningAgentProcess> {
  return listening(startCommand(binary, args, {}, "go agent"));
}

/**
 * startContactCentreAgentsProcess runs every sample agent of the
 * contact-centre flow in one process (each on its own port) and resolves
 * with their URLs once all listen.
 */
export async function startContactCentreAgentsProcess(): Promise<Proc & { agents: Record<string, string>; flags: string[] }> {
  const proc = startBuilt("agents/contact-centre/main.ts", []);
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "agents ready");
  const agents = jsonLine(line)?.["agents"] as Record<string, string>;
  return Object.assign(proc, { agents, flags: Object.entries(agents).flatMap(([name, url]) => ["--agent", `${name}=${url}`]) });
}

/**
 * startCrashingAgentProcess runs an agent that crashes after its first
 * piece of output.
 */
export async function startCrashingAgentProcess(name: string): Promise<Proc & { url: string }> {
  const proc = startTs("test/support/crashing-agent.ts", [name]);
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "agent listening");
  return Object.assign(proc, { url: String(jsonLine(line)?.["url"]) });
}

/**
 * closedPort returns a loopback port nothing listens on: connections to it
 * are refused.
 */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as import("node:net").AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
