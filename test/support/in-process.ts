import { Writable } from "node:stream";
import { join } from "node:path";
import { createLogger } from "../../src/log.js";
import { serveAgent, type AgentOptions, type RunningAgent } from "../../src/sdk/index.js";
import { echoAgent } from "../../agents/echo/agent.js";
import { FlowCatalog } from "../../src/server/flow-catalog.js";
import type { OperabilityConfig } from "../../src/server/operability.js";
import { startOrchestrator, type Orchestrator } from "../../src/server/orchestrator.js";
import { repoRoot } from "./process.js";

/**
 * LogLines collects the JSON lines a logger writes.
 */
export class LogLines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line === "") continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

/**
 * InProcess is an orchestrator and an echo agent running in the test's
 * process, each on a real loopback socket.
 */
export interface InProcess {
  readonly orchestrator: Orchestrator;
  /** The sample agent, unless the test brought its own (`agentUrl`). */
  readonly agent: RunningAgent | undefined;
  /** The orchestrator's base URL. */
  readonly url: string;
  readonly logs: LogLines;
  close(): Promise<void>;
}

/**
 * startInProcess starts the sample echo agent (or the given one) and an
 * orchestrator that calls it, with the sample flows.
 */
export async function startInProcess(
  opts: {
    operability?: OperabilityConfig;
    agent?: Pick<AgentOptions, "card" | "handler" | "tls">;
    /** The endpoint of the "echo" agent the test runs itself. */
    agentUrl?: string;
    logLevel?: string;
  } = {},
): Promise<InProcess> {
  const agent = opts.agentUrl === undefined ? await serveAgent({ ...(opts.agent ?? echoAgent), host: "127.0.0.1" }) : undefined;
  const flows = new FlowCatalog("assistant");
  flows.loadDirectory(join(repoRoot, "flows"));
  const logs = new LogLines();
  const orchestrator = await startOrchestrator({
    host: "127.0.0.1",
    port: 0,
    flows,
    agents: [{ name: "echo", endpoint: opts.agentUrl ?? agent?.url ?? "" }],
    sessionTtlMs: 3_600_000,
    agentTimeoutMs: 10_000,
    drainTimeoutMs: 2_000,
    logger: createLogger({
      level: opts.logLevel ?? "info",
      destination: logs,
      ...(opts.operability?.redactor !== undefined ? { redactor: opts.operability.redactor } : {}),
    }),
    ...(opts.operability !== undefined ? { operability: opts.operability } : {}),
  });
  const scheme = opts.operability?.tls !== undefined ? "https" : "http";
  return {
    orchestrator,
    agent,
    url: `${scheme}://127.0.0.1:${orchestrator.port}`,
    logs,
    async close() {
      await orchestrator.drain();
      await agent?.close();
    },
  };
}
