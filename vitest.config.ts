import { defineConfig } from "vitest/config";

/**
 * Tests whose assertions compare latencies measured in the same run, or
 * read CPU time over short slices (the benchmark's smoke run): they run
 * after everything else, one file at a time, so the rest of the suite does
 * not load the machine while they measure.
 */
const measuring = ["test/mesh-bulkhead.test.ts", "test/bench.test.ts", "test/bench-replay.test.ts"];

export default defineConfig({
  test: {
    globalSetup: ["test/support/global-setup.ts", "test/support/sdk-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["src/**/*.spec.ts", "console/src/**/*.spec.ts", "test/**/*.test.ts"],
          exclude: measuring,
          // Integration tests start real processes; two cores run two files at once.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "measuring",
          include: measuring,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
