import { describe, expect, it } from "vitest";
import { serveConfig } from "./serve-config.js";
import { loadServeSettings } from "./serve-settings.js";

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadServeSettings(argv, env).settings;

describe("serve settings", () => {
  it("reads each setting as its kind says, flags over the environment over the defaults", () => {
    const s = load(["--port", "7000", "--breaker-cooldown", "2.5", "--agent", "echo=http://127.0.0.1:7001", "--agent", "b=https://b:1"], {
      SWITCHBOARD_PORT: "8000",
      SWITCHBOARD_RETRY_ATTEMPTS: "3",
      SWITCHBOARD_REDACT_AUDIT: "true",
    });
    expect(s.port).toBe(7000);
    expect(s["mesh.breakerCooldown"]).toBe(2.5);
    expect(s["mesh.retryAttempts"]).toBe(3);
    expect(s["redaction.auditTrail"]).toBe(true);
    expect(s.agents).toEqual([
      { name: "echo", endpoint: "http://127.0.0.1:7001" },
      { name: "b", endpoint: "https://b:1" },
    ]);
    expect(s["mesh.breakerFailures"]).toBe(5);
    expect(s["mesh.balancer"]).toBe("p2c");
    expect(s["metrics.port"]).toBeUndefined();
  });

  it("refuses a bad value, naming where it came from and what it should be", () => {
    expect(() => load(["--retry-attempts", "9"])).toThrow('--retry-attempts: "9" is not a whole number from 1 to 5');
    expect(() => load([], { SWITCHBOARD_AGENT_MAX_TURNS: "0" })).toThrow('SWITCHBOARD_AGENT_MAX_TURNS: "0" is not a whole number of 1 or more');
    expect(() => load(["--balancer", "random"])).toThrow('--balancer: "random" is not one of p2c, least-outstanding');
    expect(() => load(["--health-interval", "0"])).toThrow('--health-interval: "0" is not a positive number of seconds');
    expect(() => load(["--max-message-bytes", "100"])).toThrow('--max-message-bytes: "100" is not a whole number of 1024 or more');
    expect(() => load(["--agent", "nourl"])).toThrow('--agent: "nourl" is not NAME=URL');
  });

  it("reads the A2A settings: every flow by default, the ones named, or none", () => {
    expect(serveConfig(load([]), {}).a2a).toEqual({});
    expect(serveConfig(load(["--a2a-flow", "contact-centre", "--a2a-flow", "assistant", "--a2a-url", "https://sb.example.com"]), {}).a2a).toEqual({
      flows: ["contact-centre", "assistant"],
      publicUrl: "https://sb.example.com",
    });
    expect(serveConfig(load([], { SWITCHBOARD_A2A_FLOWS: "none" }), {}).a2a).toEqual({ flows: [] });
    expect(() => serveConfig(load(["--a2a-url", "sb.example.com"]), {})).toThrow('--a2a-url: "sb.example.com" is not a URL; give one like https://switchboard.example.com');
  });

  it("turns into the mesh's options with no second parse", () => {
    const c = serveConfig(load(["--breaker-failures", "2", "--breaker-cooldown", "0.5", "--health-interval", "1", "--registry-refresh", "3"]), {});
    expect(c.mesh.breaker).toEqual({ failureThreshold: 2, coolDownMs: 500 });
    expect(c.mesh.health?.intervalMs).toBe(1000);
    expect(c.mesh.health?.timeoutMs).toBe(1000);
    expect(c.registryRefreshMs).toBe(3000);
    expect(c.mesh.agentLimits).toEqual({ maxConcurrentTurns: 64, maxQueuedTurns: 64 });
    expect(c.agentTransport).toBe("stream");
    expect(c.operability.agentStack).toBeUndefined();
    expect(serveConfig(load(["--agent-transport", "connect"]), {}).operability.agentStack).toBe("connect");
  });
});
