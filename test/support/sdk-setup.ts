import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { repoRoot } from "./process.js";

/**
 * SdkPackages are the agent SDKs as teams install them, built once per run
 * by scripts/build-sdks.sh.
 */
export interface SdkPackages {
  /** The npm tarball of packages/agent. */
  typescript: string;
  /** The wheel of packages/python. */
  python: string;
  /** The Go SDK's module folder (required with a replace line). */
  goModule: string;
  /** The Java SDK's version, installed in the local Maven repository. */
  javaVersion: string;
  /** The runtime classpath of the sample Java agent (agents/java). */
  javaSampleClasspath: string;
  /** The contracts archive: proto/ and the descriptor set. */
  contracts: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    sdks: SdkPackages;
  }
}

/**
 * sdksDir is where scripts/build-sdks.sh leaves the packages (gitignored).
 */
export const sdksDir = join(repoRoot, ".cache/sdks");

function only(dir: string, suffix: string): string {
  const found = readdirSync(join(sdksDir, dir)).filter((f) => f.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one *${suffix} in .cache/sdks/${dir}, found ${found.length}`);
  return join(sdksDir, dir, found[0] ?? "");
}

/**
 * setup builds the SDK packages (each only when its sources changed since
 * the last build) and provides their paths to the tests.
 */
export default function setup(project: TestProject): void {
  try {
    execFileSync("bash", [join(repoRoot, "scripts/build-sdks.sh")], {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 900_000,
    });
  } catch (e) {
    throw new Error(
      `could not build the agent SDKs (scripts/build-sdks.sh: ${e instanceof Error ? e.message : String(e)}); ` +
        "they need Node.js, Python 3.10+ with venv, and Java 17 with Maven",
    );
  }
  project.provide("sdks", {
    typescript: only("typescript", ".tgz"),
    python: only("python", ".whl"),
    goModule: join(repoRoot, "packages/go"),
    javaVersion: "0.1.0",
    javaSampleClasspath: join(sdksDir, "java/sample.classpath"),
    contracts: only("contracts", ".tar.gz"),
  });
}
