import { type ChildProcess, spawn } from "node:child_process";
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
 * startTs runs a TypeScript entry point of the repository as its own Node
 * process, through tsx.
 */
export function startTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
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
        reject(new Error(`no matching line from ${entry} within ${timeoutMs}ms; output:\n${lines.join("\n")}`));
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
        reject(new Error(`${entry} exited (${code}) before printing the expected line; output:\n${lines.join("\n")}`));
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
  const proc = startTs("src/cli/main.ts", ["serve", "--port", "0", ...args], env);
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
  const proc = startTs("agents/echo/main.ts", []);
  const line = await proc.waitForLine((l) => jsonLine(l)?.["msg"] === "agent listening");
  return Object.assign(proc, { url: String(jsonLine(line)?.["url"]) });
}
