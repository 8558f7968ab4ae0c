import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./support/process.js";

const run = promisify(execFile);

/**
 * The replay benchmark's smoke check: `npm run bench:replay` records a few
 * sessions on a private FerretDB and replays them all, reporting both
 * rates. It proves the benchmark works, not how fast anything is.
 */
describe("npm run bench:replay", () => {
  const out = mkdtempSync(join(tmpdir(), "switchboard-bench-replay-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("records sessions, replays every one without a departure, and reports both rates", { timeout: 180_000 }, async () => {
    const { stdout } = await run("npm", ["run", "-s", "bench:replay", "--", "--sessions", "4", "--out", out], { cwd: repoRoot, timeout: 170_000 });
    expect(stdout).toMatch(/\| live turns .* \| 4 \| 40 \| [\d.]+ \| \d+ turns \|/);
    expect(stdout).toMatch(/\| replay .* \| 4 \| 40 \| [\d.]+ \| [\d.]+ sessions \(\d+ turns\) \|/);
    expect(readFileSync(join(out, "replay-throughput.md"), "utf8")).toContain("# What-if replay throughput");
  });
});
