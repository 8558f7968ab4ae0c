import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./process.js";

/**
 * ferretdbBinary is where scripts/install-ferretdb.sh puts FerretDB.
 */
export const ferretdbBinary = join(repoRoot, ".cache/bin/ferretdb");

/**
 * ensureFerretDb builds FerretDB when it is not built yet, or throws with
 * what to do instead.
 */
export function ensureFerretDb(): string {
  try {
    execFileSync("bash", [join(repoRoot, "scripts/install-ferretdb.sh")], {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 900_000,
    });
  } catch (e) {
    throw new Error(
      `the tests need a MongoDB-wire-protocol server and could not build FerretDB (${e instanceof Error ? e.message : String(e)}).\n` +
        `Either install Go (FerretDB is built from the Go module proxy by scripts/install-ferretdb.sh), ` +
        `or point the tests at a MongoDB server: MONGODB_URI=mongodb://HOST:PORT npm test`,
    );
  }
  return ferretdbBinary;
}

/**
 * freePort asks the kernel for a free loopback port.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * FerretDb is a FerretDB server with the SQLite backend in a throw-away
 * directory, on a free loopback port. It can be stopped and started again
 * on the same port and data, to test outages.
 */
export class FerretDb {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "switchboard-ferretdb-"));
  private output: string[] = [];

  private constructor(readonly port: number) {}

  /** uri is the MongoDB connection string of the server. */
  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  /**
   * launch builds FerretDB if needed and starts it.
   */
  static async launch(): Promise<FerretDb> {
    ensureFerretDb();
    const db = new FerretDb(await freePort());
    await db.start();
    return db;
  }

  /**
   * start (re)starts the server and resolves once it accepts connections.
   */
  async start(): Promise<void> {
    this.output = [];
    const child = spawn(
      ferretdbBinary,
      [
        "--handler=sqlite",
        `--sqlite-url=file:${this.dir}/`,
        `--listen-addr=127.0.0.1:${this.port}`,
        `--state-dir=${this.dir}`,
        "--telemetry=disable",
        "--log-level=warn",
        "--debug-addr=-",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (d: Buffer) => this.output.push(d.toString()));
    child.stderr?.on("data", (d: Buffer) => this.output.push(d.toString()));
    this.child = child;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await reachable(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`FerretDB did not start on port ${this.port}:\n${this.output.join("")}`);
  }

  /**
   * stop stops the server (keeping its data) and resolves once it is gone.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /**
   * destroy stops the server and removes its data.
   */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
