import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./process.js";
import { toolsDir } from "./tools.js";

/**
 * ensurePythonAgent makes agents/python/.venv with the pinned requirements
 * (a no-op when it is current) and returns its Python interpreter.
 */
export function ensurePythonAgent(): string {
  try {
    execFileSync("bash", [join(repoRoot, "agents/python/setup.sh")], {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 600_000,
    });
  } catch (e) {
    throw new Error(
      `could not set up the Python agent (agents/python/setup.sh: ${e instanceof Error ? e.message : String(e)}); ` +
        "install Python 3.10 or newer with venv, or set PYTHON, and run the tests again",
    );
  }
  return join(repoRoot, "agents/python/.venv/bin/python");
}

/**
 * buildGoAgent builds the sample Go agent into .cache/bin (incremental: fast
 * when nothing changed) and returns the binary's path.
 */
export function buildGoAgent(): string {
  const out = join(toolsDir, "switchboard-go-agent");
  try {
    execFileSync("go", ["build", "-o", out, "."], {
      cwd: join(repoRoot, "agents/go"),
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 600_000,
    });
  } catch (e) {
    throw new Error(
      `could not build the Go agent with 'go build' in agents/go (${e instanceof Error ? e.message : String(e)}); ` +
        "install Go (see agents/go/go.mod for the version) and run the tests again",
    );
  }
  return out;
}
