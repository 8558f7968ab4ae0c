import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { connect, createServer } from "node:net";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** repoRoot is the repository's top directory. */
export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * CpuPlan says which CPUs the load generator and the systems under test
 * run on. Without taskset (or with one CPU) nothing is pinned.
 */
export interface CpuPlan {
  pinned: boolean;
  load: string;
  sut: string;
  /** Every CPU, for a child that is to have the whole machine. */
  all: string;
  note: string;
}

/**
 * planCpus splits the machine's CPUs: the first half for the load
 * generator (this process), the rest for the systems under test; on two
 * cores that is one each. It pins this process at once.
 */
export function planCpus(): CpuPlan {
  const n = availableParallelism();
  let taskset = false;
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    taskset = true;
  } catch {
    // not installed, or not allowed here
  }
  if (!taskset || n < 2) {
    return { pinned: false, load: "", sut: "", all: "", note: taskset ? "one CPU: nothing pinned" : "taskset not available: nothing pinned" };
  }
  const half = Math.floor(n / 2);
  const load = half === 1 ? "0" : `0-${half - 1}`;
  const sut = half === n - 1 ? String(half) : `${half}-${n - 1}`;
  try {
    execFileSync("taskset", ["-a", "-cp", load, String(process.pid)], { stdio: "ignore" });
  } catch {
    return { pinned: false, load: "", sut: "", all: "", note: "taskset could not pin this process: nothing pinned" };
  }
  return { pinned: true, load, sut, all: `0-${n - 1}`, note: `load generator on CPU ${load}, systems under test on CPU ${sut}` };
}

/**
 * Child is a system under test running as its own process.
 */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * freePort asks the kernel for a free loopback port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * StartOptions describe a child to start.
 */
export interface StartOptions {
  name: string;
  /** The program and its arguments; `{port}` is replaced by a free port. */
  command: string[];
  env?: NodeJS.ProcessEnv;
  cpus: CpuPlan;
  /** Where the child's output goes. */
  logDir: string;
  /** Adds to the child's log instead of starting it afresh: for a command started many times. */
  appendLog?: boolean;
}

/**
 * startChild starts a process pinned to the systems-under-test CPUs and
 * resolves once it accepts connections on its port.
 */
export async function startChild(opts: StartOptions): Promise<Child> {
  const port = await freePort();
  const { child, exited } = spawnChild(opts, port);
  const deadline = Date.now() + 60_000;
  while (!(await reachable(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${opts.name} did not start (see ${join(opts.logDir, `${opts.name}.log`)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: opts.name,
    pid: child.pid as number,
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () => stopChild(child, exited),
  };
}

/**
 * spawnChild starts `opts.command` with `{port}` replaced by `port`, pinned
 * to the systems-under-test CPUs, its output in its log; it does not wait
 * for anything. `exited` resolves when the process is gone.
 */
export function spawnChild(opts: StartOptions, port: number): { child: ChildProcess; exited: Promise<void> } {
  const args = opts.command.map((a) => a.replaceAll("{port}", String(port)));
  const [cmd, ...rest] = opts.cpus.pinned ? ["taskset", "-c", opts.cpus.sut, ...args] : args;
  mkdirSync(opts.logDir, { recursive: true });
  const log = createWriteStream(join(opts.logDir, `${opts.name}.log`), { flags: opts.appendLog === true ? "a" : "w" });
  const child: ChildProcess = spawn(cmd as string, rest, {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited };
}

/**
 * stopChild sends SIGTERM, and SIGKILL if the process is still there 5 s
 * later; it resolves once the process is gone.
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * tsx is the command that runs a TypeScript file of the repository from
 * its source: the benchmark's own systems, which are not part of the build.
 */
export function tsx(file: string, ...args: string[]): string[] {
  return [process.execPath, "--import", "tsx", file, ...args];
}

/**
 * built is the command that runs the compiled form (under dist/, made by
 * `npm run build`) of a TypeScript file of the product, e.g.
 * "agents/echo/main.ts".
 */
export function built(file: string, ...args: string[]): string[] {
  return [process.execPath, join("dist", file.replace(/\.ts$/, ".js")), ...args];
}

/**
 * switchboard is the command that runs the built `switchboard` command,
 * as an installed package does.
 */
export function switchboard(...args: string[]): string[] {
  return [process.execPath, "bin/switchboard.js", ...args];
}
