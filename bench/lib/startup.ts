import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { type CpuPlan, freePort, spawnChild, stopChild } from "./children.js";
import { summarize, type Summary } from "./stats.js";

/**
 * StartupResult is what starting `switchboard serve` many times with one
 * program measured: the time from spawning the process to its gRPC health
 * service answering SERVING, in milliseconds.
 */
export interface StartupResult {
  /** "built" (the built command) or "tsx" (the sources through tsx). */
  key: string;
  label: string;
  /** The starts that reached SERVING. */
  summary: Summary;
  /** Each start's time to SERVING, in the order they ran. */
  samples: number[];
  /** Starts that exited or did not reach SERVING within the time a start may take. */
  failed: number;
  firstError?: string;
}

/** The arguments every measured start gets: the benchmark's flows, no agents, a free port. */
const serveArgs = ["serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1"];

const labels: Record<string, string> = {
  built: "switchboard serve, built (node bin/switchboard.js → dist/)",
  tsx: "the same sources through tsx, as before the build",
};

// Polling sets the figure's resolution: 5 ms is far below the 0.5 s goal
// and keeps the load generator's own CPU use negligible.
const pollMs = 5;
const startTimeoutMs = 30_000;

/**
 * measureStartups starts `switchboard serve` `runs` times with each of the
 * given programs (`programs.built`: the built command; `programs.tsx`: the
 * sources through tsx), one start at a time and taking turns, so that a
 * slow patch of a shared machine hits them alike. Each start is timed from
 * spawn to the first health Check (service "") that answers SERVING, then
 * stopped with SIGTERM and awaited before the next one begins.
 */
export async function measureStartups(programs: Record<string, string[]>, runs: number, cpus: CpuPlan, logDir: string): Promise<StartupResult[]> {
  // Each start has the whole machine, not the systems-under-test CPUs of
  // the other scenarios: the goal is for an idle machine, a start keeps
  // more than one thread busy (V8 compiles and collects garbage on helper
  // threads; confined to one of two cores it took about 0.12 s longer),
  // and nothing else of the benchmark runs meanwhile but the health probe.
  const whole: CpuPlan = { ...cpus, sut: cpus.all };
  const results = Object.entries(programs).map(([key]) => ({ key, label: labels[key] ?? key, samples: [] as number[], failed: 0, firstError: undefined as string | undefined }));
  for (const r of results) rmSync(join(logDir, `startup-${r.key}.log`), { force: true });
  for (let i = 0; i < runs; i++) {
    for (const r of results) {
      const command = [...(programs[r.key] as string[]), ...serveArgs];
      const port = await freePort();
      const t0 = performance.now();
      const { child, exited } = spawnChild({ name: `startup-${r.key}`, command, cpus: whole, logDir, appendLog: true }, port);
      try {
        r.samples.push((await untilServing(port, t0, () => child.exitCode !== null || child.signalCode !== null)) - t0);
      } catch (e) {
        r.failed++;
        r.firstError ??= e instanceof Error ? e.message : String(e);
      } finally {
        await stopChild(child, exited);
      }
    }
  }
  return results.map(({ firstError, ...r }) => ({ ...r, summary: summarize(r.samples), ...(firstError !== undefined ? { firstError } : {}) }));
}

/**
 * untilServing polls the health service on `port` until it answers
 * SERVING and returns when it did (performance.now()). A refused
 * connection (not listening yet) or another status means "try again".
 */
async function untilServing(port: number, t0: number, gone: () => boolean): Promise<number> {
  for (;;) {
    if (gone()) throw new Error("the process exited before it served");
    if (performance.now() - t0 > startTimeoutMs) throw new Error(`not SERVING within ${startTimeoutMs} ms`);
    // A transport per attempt: a fresh connection each time, as a load
    // balancer's or an orchestrator's probe of a new replica makes.
    const client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const status = await client.check({ service: "" }, { timeoutMs: 1_000 }).then(
      (r) => r.status,
      () => undefined,
    );
    if (status === ServingStatus.SERVING) return performance.now();
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
