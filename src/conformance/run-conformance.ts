import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AgentService } from "../gen/switchboard/v1/agent_pb.js";
import { type CheckResult, checks, type ConformanceOptions, defaultConformanceOptions } from "./checks.js";

/**
 * ConformanceReport is the outcome of every check against one agent.
 */
export interface ConformanceReport {
  endpoint: string;
  results: Array<CheckResult & { title: string }>;
  /** True when no check failed (skipped checks do not fail the run). */
  ok: boolean;
}

/**
 * runConformance checks the agent at `endpoint` (e.g. "http://127.0.0.1:7001")
 * against the AgentService contract over gRPC, one check after another, and
 * calls `onResult` as each finishes.
 */
export async function runConformance(
  endpoint: string,
  options: Partial<ConformanceOptions> = {},
  onResult: (r: CheckResult & { title: string }) => void = () => undefined,
): Promise<ConformanceReport> {
  const opts = { ...defaultConformanceOptions, ...options };
  const transport = createGrpcTransport({ baseUrl: endpoint });
  const clients = { agent: createClient(AgentService, transport), health: createClient(Health, transport) };
  const results: ConformanceReport["results"] = [];
  let unreachable: string | undefined;
  for (const check of checks) {
    const outcome: Omit<CheckResult, "name"> =
      unreachable !== undefined
        ? { status: "fail", detail: `not run: ${unreachable}` }
        : await check.run(clients, opts).catch((e: unknown) => ({
            status: "fail" as const,
            detail: `the check itself failed: ${e instanceof Error ? e.message : String(e)}`,
          }));
    if (outcome.fatal === true) unreachable = `the agent at ${endpoint} cannot be reached`;
    const result = { name: check.name, title: check.title, ...outcome };
    results.push(result);
    onResult(result);
  }
  return { endpoint, results, ok: results.every((r) => r.status !== "fail") };
}
