import { execFileSync } from "node:child_process";
import { repoRoot } from "./process.js";

/**
 * buildProduct runs `npm run build`: the compiler, incremental (`tsc -b`),
 * from src/ and the sample agents to dist/. With nothing changed since the
 * last build it only compares timestamps (a fraction of a second). A
 * compile error fails the run with the compiler's own messages.
 */
export function buildProduct(): void {
  try {
    execFileSync("npm", ["run", "-s", "build"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"], timeout: 300_000 });
  } catch (e) {
    throw new Error(`npm run build failed (the compiler's messages are above): ${e instanceof Error ? e.message : String(e)}`);
  }
}
