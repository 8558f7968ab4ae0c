import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { commands, main } from "../src/cli/switchboard.js";
import { closedPort, jsonLine, type Proc, startEchoAgentProcess, startSwitchboard, switchboardCommand } from "./support/process.js";

const run = promisify(execFile);

/**
 * runCli runs the switchboard command in this process and captures what
 * it prints.
 */
async function runCli(argv: string[], env: NodeJS.ProcessEnv = {}, input?: NodeJS.ReadableStream) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: "", err: "" };
  out.on("data", (c: Buffer) => (chunks.out += c.toString()));
  err.on("data", (c: Buffer) => (chunks.err += c.toString()));
  const code = await main(argv, { ...(input !== undefined ? { in: input } : {}), out, err, env });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

describe("switchboard command", () => {
  it("prints help for every command, naming it", async () => {
    for (const c of commands) {
      if (c.name[0] === "conformance") continue;
      const { code, stdout } = await runCli([...c.name, "--help"]);
      expect(code, c.name.join(" ")).toBe(0);
      expect(stdout, c.name.join(" ")).toContain(`switchboard ${c.name.join(" ")}`);
    }
    const top = await runCli(["--help"]);
    for (const name of ["serve", "demo", "sessions ls", "sessions rm", "agents ls", "flow validate", "chat", "conformance"]) {
      expect(top.stdout).toContain(name);
    }
    expect((await runCli(["sessions", "--help"])).stdout).toContain("switchboard sessions rollback");
    expect((await runCli(["help", "sessions", "fork"])).stdout).toContain("--new-id");
  });

  it("runs as the package's bin", async () => {
    const { stdout } = await run(process.execPath, [switchboardCommand, "sessions", "show", "--help"]);
    expect(stdout).toContain("switchboard sessions show SESSION");
  });

  it("answers a wrong command or argument with exit code 2 and the usage", async () => {
    const unknown = await runCli(["sessons", "ls"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "sessons ls"');
    const sub = await runCli(["sessions", "list"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain('unknown subcommand of sessions "list"');
    const bad = await runCli(["sessions", "ls", "--status", "sleeping"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--status: "sleeping" is not one of active, waiting, completed, failed');
  });

  it("says when chat cannot reach the orchestrator, or is called wrongly", async () => {
    const input = new PassThrough();
    input.end();
    const unreachable = await runCli(["chat", "--server", `http://127.0.0.1:${await closedPort()}`], {}, input);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^switchboard chat: unavailable: .*\(is the orchestrator running at --server\?\)\n$/);
    const resume = await runCli(["chat", "--resume"]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toContain("--resume needs --session");
    const badId = await runCli(["chat", "--session", "a/b"]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('"a/b" is not a valid id');
  });
});

describe("switchboard serve with a config file, and the sessions commands against it", () => {
  const token = "cli-test-token-0123456789";
  let dir: string;
  let agent: Proc & { url: string };
  let server: Proc;
  let url = "";
  let metricsPort = 0;
  const cli = (argv: string[], env: NodeJS.ProcessEnv = {}) => runCli([...argv, "--server", url], { SWITCHBOARD_TOKEN: token, ...env });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchboard-cli-"));
    writeFileSync(join(dir, "tokens.yaml"), `tokens:\n  - { name: cli, tenant: acme, token: "${token}" }\n`);
    agent = await startEchoAgentProcess();
    writeFileSync(
      join(dir, "switchboard.yaml"),
      [
        "host: 127.0.0.1",
        "port: 50051          # the flag below wins: --port 0",
        `agents:\n  - { name: echo, url: "${agent.url}" }`,
        "sessionTtl: 600",
        `auth:\n  tokensFile: ${join(dir, "tokens.yaml")}`,
        "metrics:\n  port: 0",
        "limits:\n  maxSessionVersions: 50",
        "redaction:\n  patterns: [card]\n  auditTrail: true",
        "",
      ].join("\n"),
    );
    server = startSwitchboard(["serve", "--config", join(dir, "switchboard.yaml"), "--port", "0"], {
      SWITCHBOARD_LOG_LEVEL: "info",
    });
    const listening = jsonLine(await server.waitForLine((l) => jsonLine(l)?.["msg"] === "listening"));
    url = `http://127.0.0.1:${String(listening?.["port"])}`;
    metricsPort = Number(jsonLine(await server.waitForLine((l) => jsonLine(l)?.["msg"] === "metrics listening"))?.["port"]);
    expect(listening?.["auth"]).toBe(true);
    const client = createClient(
      OrchestratorService,
      createGrpcTransport({ baseUrl: url, interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))] }),
    );
    await client.sendTurn({ sessionId: "cli-1", accountId: "acct-7", input: { text: "hello" } });
    await client.sendTurn({ sessionId: "cli-1", input: { text: "my card is 4111 1111 1111 1111" } });
    await client.sendTurn({ sessionId: "cli-2", input: { text: "hi" } });
  });

  afterAll(async () => {
    await server?.stop();
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("takes its settings from the file, with flags winning", async () => {
    expect(url).not.toContain(":50051");
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(await res.text()).toContain("switchboard_turns_total");
  });

  it("refuses the sessions commands without the token", async () => {
    const r = await runCli(["sessions", "ls", "--server", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unauthenticated: missing bearer token");
    expect(r.stderr).toContain("--token");
  });

  it("lists sessions as a table and as JSON", async () => {
    const table = await cli(["sessions", "ls"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^SESSION\s+TENANT\s+FLOW\s+STAGE\s+STATUS\s+VERSION\s+UPDATED$/);
    expect(table.stdout).toMatch(/cli-1\s+acme\s+assistant@1\s+conversation\s+active\s+2/);
    const json = await cli(["sessions", "ls", "--json"]);
    const sessions = JSON.parse(json.stdout) as Array<{ id: string; tenant: string }>;
    expect(sessions.map((s) => s.id).sort()).toEqual(["cli-1", "cli-2"]);
  });

  it("shows progress on stderr for a long listing, never on stdout", async () => {
    const r = await cli(["sessions", "ls", "--all", "--json"], { SWITCHBOARD_PROGRESS: "1" });
    expect(r.stderr).toContain("fetched 2 sessions");
    expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
  });

  it("shows a session, its steps (redacted as configured) and its snapshots", async () => {
    const show = await cli(["sessions", "show", "cli-1"]);
    expect(show.stdout).toMatch(/^session\s+cli-1$/m);
    expect(show.stdout).toMatch(/^tenant\s+acme$/m);
    expect(show.stdout).toMatch(/^version\s+2$/m);
    const steps = await cli(["sessions", "steps", "cli-1"]);
    expect(steps.stdout).toContain("my card is [redacted:card]");
    expect(steps.stdout).not.toContain("4111");
    const stepsJson = JSON.parse((await cli(["sessions", "steps", "cli-1", "--json"])).stdout) as unknown[];
    expect(stepsJson).toHaveLength(2);
    const snaps = await cli(["sessions", "snapshots", "cli-1"]);
    expect(snaps.stdout).toMatch(/^1\s+turn\s+conversation/m);
  });

  it("rolls back, forks and removes sessions", async () => {
    const rb = await cli(["sessions", "rollback", "cli-1", "1"]);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain("rolled back to version 1; it is now at version 3");
    const fork = await cli(["sessions", "fork", "cli-1", "--version", "2", "--new-id", "cli-1-fork", "--json"]);
    expect((JSON.parse(fork.stdout) as { id: string; origin: { sessionId: string } }).origin.sessionId).toBe("cli-1");
    const rm = await cli(["sessions", "rm", "cli-1-fork", "no-such"], { SWITCHBOARD_PROGRESS: "1" });
    expect(rm.code).toBe(1);
    expect(rm.stdout).toContain("deleted cli-1-fork");
    expect(rm.stdout).toContain("not deleted no-such");
    expect(rm.stderr).toContain("deleted 1/2");
    const gone = await cli(["sessions", "show", "cli-1-fork"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("not_found: session cli-1-fork not found");
  });

  it("lists the agents the orchestrator knows", async () => {
    const r = await cli(["agents", "ls", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(agent.url);
  });

  it("refuses a config file with an unknown setting, naming it", async () => {
    writeFileSync(join(dir, "bad.yaml"), "limits:\n  maxStateByte: 10\n");
    const r = await runCli(["serve", "--config", join(dir, "bad.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown setting "limits.maxStateByte"');
    const env = await runCli(["serve", "--port", "0"], { SWITCHBOARD_MAX_STATE_BYTES: "lots" });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('SWITCHBOARD_MAX_STATE_BYTES: "lots" is not a whole number');
  });
});
