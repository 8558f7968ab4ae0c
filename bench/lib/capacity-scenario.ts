import { type CapacityResult, holdIdleStreams } from "./capacity.js";
import { built, type Child, type CpuPlan, startChild, switchboard, tsx } from "./children.js";

/** The systems scenario F holds idle streams on, in the order they run. */
export type CapacityKey = "bare-connect" | "bare-grpc-js" | "switchboard";

/**
 * measureCapacity holds `streams` idle Converse streams over `connections`
 * HTTP/2 connections on each system in turn, one system at a time (each
 * run's client streams are closed before the next opens its own), each run
 * under `capped` (which gives it a deadline and reports it as incomplete
 * past it).
 */
export async function measureCapacity(
  systems: [CapacityKey, Child][],
  streams: number,
  connections: number,
  capped: (name: string, work: (deadline: number) => Promise<CapacityResult>) => Promise<CapacityResult | undefined>,
  log: (msg: string) => void,
): Promise<Record<string, CapacityResult>> {
  const capacity: Record<string, CapacityResult> = {};
  for (const [key, child] of systems) {
    log(`capacity: ${streams} idle Converse streams on ${key} over ${connections} connections`);
    const r = await capped(`capacity on ${key}`, (deadline) => holdIdleStreams(child.url, child.pid, streams, connections, deadline));
    if (r !== undefined) {
      capacity[key] = r;
      log(`capacity on ${key}: ${r.streams} opened in ${r.openSeconds.toFixed(1)} s, ${(r.bytesPerStream / 1024).toFixed(1)} KiB per stream, ${r.failed} failed`);
    }
  }
  return capacity;
}

/**
 * capacityEnv is the environment of the orchestrator that holds scenario
 * F's streams: 100,000 idle streams take more than Node's default heap
 * limit (about 4 GiB here; the process died of it at about 80,000), so its
 * heap may grow to 8 GiB, as docs/operations.md advises for that many
 * streams on one replica.
 */
export const capacityEnv: NodeJS.ProcessEnv = { NODE_OPTIONS: "--max-old-space-size=8192" };

/**
 * capacityAlone runs scenario F on its own (`npm run bench -- --only
 * capacity`): it starts the systems, holds the streams on each and stops
 * the systems again.
 */
export async function capacityAlone(
  cpus: CpuPlan,
  logDir: string,
  streams: number,
  connections: number,
  capped: (name: string, work: (deadline: number) => Promise<CapacityResult>) => Promise<CapacityResult | undefined>,
  log: (msg: string) => void,
): Promise<Record<string, CapacityResult>> {
  const children: Child[] = [];
  try {
    return await measureCapacity(await startCapacitySystems(cpus, logDir, children), streams, connections, capped, log);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

/**
 * startCapacitySystems starts what scenario F alone needs (`npm run bench
 * -- --only capacity`): the two bare servers and `switchboard serve` with
 * the benchmark's raised limits, its agent the built echo agent.
 */
async function startCapacitySystems(cpus: CpuPlan, logDir: string, children: Child[]): Promise<[CapacityKey, Child][]> {
  const start = async (name: string, command: string[], env: NodeJS.ProcessEnv = {}) => {
    const c = await startChild({ name, command, env, cpus, logDir });
    children.push(c);
    return c;
  };
  const agent = await start("agent-connect", built("agents/echo/main.ts", "--port", "{port}"));
  const [bareC, bareG, sb] = await Promise.all([
    start("bare-converse-connect", tsx("bench/systems/bare-converse-connect.ts", "--port", "{port}")),
    start("bare-converse-grpc-js", tsx("bench/systems/bare-converse-grpc-js.ts", "--port", "{port}")),
    start(
      "switchboard-memory",
      switchboard("serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1", "--agent", `echo=${agent.url}`, "--max-streams-per-token", "0"),
      capacityEnv,
    ),
  ]);
  return [
    ["bare-connect", bareC],
    ["bare-grpc-js", bareG],
    ["switchboard", sb],
  ];
}
