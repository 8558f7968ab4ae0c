import { durationFromMs, durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../src/gen/grpc/health/v1/health_pb.js";
import {
  type DeregisterRequest,
  type HeartbeatRequest,
  type RegisterRequest,
  RegistryService,
} from "../src/gen/switchboard/v1/registry_pb.js";
import { healthService, HealthStatus } from "../src/server/health.js";
import { HttpServer } from "../src/server/http-server.js";
import { type RunningAgentProcess, startGoAgentProcess, startPythonAgentProcess } from "./support/process.js";
import { startJavaAgentProcess } from "./support/sdk-project.js";

type Call =
  | { rpc: "register"; req: RegisterRequest }
  | { rpc: "heartbeat"; req: HeartbeatRequest }
  | { rpc: "deregister"; req: DeregisterRequest };

/**
 * RecordingRegistry is a real gRPC server speaking switchboard.v1.RegistryService
 * that records every call, standing in for the orchestrator's registry.
 * `forget` makes the next heartbeat answer NOT_FOUND, as for an expired lease.
 */
async function recordingRegistry() {
  const calls: Call[] = [];
  const waiters = new Set<() => void>();
  let forget = false;
  let registrations = 0;
  const record = (c: Call) => {
    calls.push(c);
    for (const w of [...waiters]) w();
  };
  const routes = (router: ConnectRouter) => {
    router.service(RegistryService, {
      register(req) {
        record({ rpc: "register", req });
        return { instanceId: `instance-${++registrations}`, lease: req.lease ?? durationFromMs(30_000) };
      },
      heartbeat(req) {
        record({ rpc: "heartbeat", req });
        if (forget) {
          forget = false;
          throw new ConnectError(`instance ${req.instanceId} not found`, Code.NotFound);
        }
        return { leaseExpireTime: timestampFromDate(new Date(Date.now() + 30_000)) };
      },
      deregister(req) {
        record({ rpc: "deregister", req });
        return {};
      },
      listAgents: () => ({ instances: [] }),
    });
  };
  const server = new HttpServer(connectNodeAdapter({ routes }), { host: "127.0.0.1", port: 0 });
  const port = await server.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    forgetNextHeartbeat: () => (forget = true),
    /** until resolves once `match` holds for the calls so far. */
    until(match: (calls: Call[]) => boolean, timeoutMs = 15_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!match(calls)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`registry calls did not match within ${timeoutMs}ms: ${JSON.stringify(calls.map((c) => c.rpc))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => server.close(),
  };
}

/**
 * An orchestrator without a registry: a gRPC server that serves health only,
 * so RegistryService calls answer UNIMPLEMENTED.
 */
async function registrylessServer() {
  const routes = (router: ConnectRouter) => router.service(Health, healthService(new HealthStatus()));
  const server = new HttpServer(connectNodeAdapter({ routes }), { host: "127.0.0.1", port: 0 });
  const port = await server.listen();
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

const count = (calls: Call[], rpc: Call["rpc"]) => calls.filter((c) => c.rpc === rpc).length;

const languages: Array<[string, (args: string[]) => Promise<RunningAgentProcess>]> = [
  ["Python", (args) => startPythonAgentProcess(inject("python"), args)],
  ["Go", (args) => startGoAgentProcess(inject("goAgent"), args)],
  ["Java", (args) => startJavaAgentProcess(inject("sdks").javaSampleClasspath, args)],
];

describe.each(languages)("the %s agent's registration", (_, start) => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("registers with its card, endpoint, lease and token, heartbeats, re-registers when forgotten, and deregisters on SIGTERM", async () => {
    const registry = await recordingRegistry();
    cleanup.push(() => registry.close());
    const agent = await start(["--name", "polyglot-agent", "--orchestrator", registry.url, "--lease", "0.6", "--registry-token", "s3cret"]);
    cleanup.push(() => agent.stop());

    await registry.until((c) => count(c, "heartbeat") >= 2);
    const first = registry.calls[0];
    expect(first?.rpc).toBe("register");
    const reg = first?.req as RegisterRequest;
    expect(reg.card?.name).toBe("polyglot-agent");
    expect(reg.card?.version).toBe("1.0.0");
    expect(reg.endpoint).toBe(agent.url);
    expect(durationMs(reg.lease ?? durationFromMs(0))).toBe(600);
    expect(reg.token).toBe("s3cret");
    const beats = registry.calls.filter((c): c is Extract<Call, { rpc: "heartbeat" }> => c.rpc === "heartbeat");
    expect(beats.map((b) => [b.req.instanceId, b.req.token])).toContainEqual(["instance-1", "s3cret"]);

    // The registry forgets the instance (its lease ran out): the agent registers again.
    registry.forgetNextHeartbeat();
    await registry.until((c) => count(c, "register") >= 2);

    await registry.until((c) => c.at(-1)?.rpc === "heartbeat" && (c.at(-1)?.req as HeartbeatRequest).instanceId === "instance-2");
    expect(await agent.stop()).toBe(0);
    const last = registry.calls.at(-1);
    expect(last?.rpc).toBe("deregister");
    expect((last?.req as DeregisterRequest).instanceId).toBe("instance-2");
    expect((last?.req as DeregisterRequest).token).toBe("s3cret");
  });

  it("keeps serving, and says why, when the orchestrator does not serve RegistryService", async () => {
    const server = await registrylessServer();
    cleanup.push(() => server.close());
    const agent = await start(["--orchestrator", server.url]);
    cleanup.push(() => agent.stop());
    await agent.waitForLine((l) => l.includes("does not serve switchboard.v1.RegistryService"));
    expect(agent.lines.join("\n")).toContain("--agent NAME=URL");
    expect(await fetchHealth(agent.url)).toBe("SERVING");
  });

  it("keeps serving when the orchestrator cannot be reached", async () => {
    const agent = await start(["--orchestrator", "http://127.0.0.1:1"]);
    cleanup.push(() => agent.stop());
    await agent.waitForLine((l) => l.includes("the orchestrator cannot be reached"));
    expect(await fetchHealth(agent.url)).toBe("SERVING");
    expect(await agent.stop()).toBe(0);
  });
});

async function fetchHealth(url: string): Promise<string> {
  const res = await createClient(Health, createGrpcTransport({ baseUrl: url })).check({});
  return ServingStatus[res.status];
}
