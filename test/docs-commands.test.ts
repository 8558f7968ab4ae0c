import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { docSection, readDoc, type ShellCommand, shellCommands } from "./support/docs.js";
import { jsonLine, type Proc, repoRoot, startCommand, startEchoAgentProcess, startSwitchboard, switchboardCommand } from "./support/process.js";

const run = promisify(execFile);
const commands = shellCommands();

/**
 * Sections whose commands another test runs as written; each entry names
 * the test and the text by which it finds its section.
 */
const runElsewhere = [
  { file: "README.md", heading: "# Switchboard", test: "test/readme.test.ts", finds: "opens with the install-and-run and the test command" },
  { file: "README.md", heading: "## A five-minute tour with grpcurl", test: "test/readme.test.ts", finds: '"## A five-minute tour with grpcurl"' },
  { file: "docs/flows.md", heading: "## The contact-centre flow", test: "test/readme-contact-centre.test.ts", finds: '"## The contact-centre flow"' },
  { file: "docs/testing.md", heading: "## Running the tests", test: "test/flow-tests.test.ts", finds: '"## Running the tests"' },
  { file: "docs/flow-migration.md", heading: "## A migration from start to finish", test: "test/flow-migration-docs.test.ts", finds: '"## A migration from start to finish"' },
  { file: "docs/rollouts.md", heading: "## A rollout from start to finish", test: "test/rollout-docs.test.ts", finds: '"## A rollout from start to finish"' },
] as const;

/**
 * Commands this file runs, each found by its file and a pattern that
 * matches it alone.
 */
const runHere = {
  watchSession: { file: "docs/streaming.md", pattern: /\/WatchSession$/ },
  reloadFlowsRpc: { file: "docs/flows.md", pattern: /\/ReloadFlows$/ },
  reloadFlowsSignal: { file: "docs/flows.md", pattern: /^kill -HUP / },
  mongoServe: { file: "docs/sessions-and-mongodb.md", pattern: /^MONGODB_URI=/ },
  pythonSetup: { file: "docs/writing-agents.md", pattern: /^npm run agents:python:setup / },
  goBuild: { file: "docs/writing-agents.md", pattern: /^npm run agents:go:build / },
  conformance: { file: "docs/writing-agents.md", pattern: /^npm run conformance / },
  a2aCard: { file: "docs/a2a.md", pattern: /agent-card\.json$/ },
  a2aSend: { file: "docs/a2a.md", pattern: /"method":"SendMessage"/ },
  a2aGetTask: { file: "docs/a2a.md", pattern: /"method":"GetTask"/ },
  a2aGrpcGetTask: { file: "docs/a2a.md", pattern: /lf\.a2a\.v1\.A2AService\/GetTask$/ },
} as const;

function command(key: keyof typeof runHere): string {
  const { file, pattern } = runHere[key];
  const found = commands.filter((c) => c.file === file && pattern.test(c.command));
  expect(found.map((c) => c.command), `${file} ${String(pattern)}`).toHaveLength(1);
  return found[0]?.command ?? "";
}

function isRunElsewhere(c: ShellCommand): boolean {
  return runElsewhere.some((s) => s.file === c.file && s.heading === c.heading);
}

/** The grpcurl the tests built, for the `grpcurl` a command names. */
function adapt(line: string, port: number): string {
  return line.replaceAll("localhost:50051", `127.0.0.1:${port}`).replace(/^grpcurl /, `'${inject("grpcurl")}' `);
}

/**
 * Every command in a ```sh block of the README and docs/ is true: it is
 * run, as written (with the port, the database and the agent's address of
 * the test), by this file or by the test named for its section.
 */
describe("commands in the documentation", () => {
  it("are each run by a test", () => {
    const here = Object.values(runHere);
    const unclaimed = commands.filter((c) => !isRunElsewhere(c) && !here.some((h) => h.file === c.file && h.pattern.test(c.command)));
    expect(unclaimed).toEqual([]);
    for (const s of runElsewhere) {
      expect(docSection(readDoc(s.file), s.heading).length, `${s.file} ${s.heading}`).toBeGreaterThan(0);
      expect(readFileSync(join(repoRoot, s.test), "utf8"), s.test).toContain(s.finds);
    }
  });

  describe("against what npm start runs", () => {
    let demo: Proc;
    let port = 0;

    beforeAll(async () => {
      demo = startSwitchboard(["demo", "--port", "0"]);
      const line = await demo.waitForLine((l) => jsonLine(l)?.["msg"] === "listening");
      port = Number(jsonLine(line)?.["port"]);
    });

    afterAll(async () => {
      await demo?.stop();
    });

    it("docs/streaming.md: WatchSession replays the tour's Converse conversation, then waits until -max-time", async () => {
      const converse = commands.find((c) => c.file === "README.md" && c.command.includes("/Converse < "))?.command ?? "";
      await run("bash", ["-c", adapt(converse, port)], { timeout: 20_000 });
      const err = await run("bash", ["-c", adapt(command("watchSession"), port)], { timeout: 20_000 }).then(
        () => undefined,
        (e: unknown) => e as { stdout: string; stderr: string },
      );
      expect(err?.stderr).toContain("Code: DeadlineExceeded");
      // The three turns of examples/conversation.jsonl, each with its result.
      expect(err?.stdout.match(/"completed": \{/g)).toHaveLength(3);
      expect(err?.stdout).toContain('"seq"');
    });

    it("docs/a2a.md: the default flow's card, a message in a new context, and its task over JSON-RPC and gRPC", async () => {
      const sh = async (key: keyof typeof runHere) => (await run("bash", ["-c", adapt(command(key), port)], { timeout: 20_000 })).stdout;
      const card = JSON.parse(await sh("a2aCard")) as { name: string; supportedInterfaces: Array<{ url: string }> };
      expect(card.name).toBe("assistant");
      expect(card.supportedInterfaces.map((i) => i.url)).toEqual([`http://127.0.0.1:${port}/a2a/assistant`, `127.0.0.1:${port}`]);
      const sent = JSON.parse(await sh("a2aSend")) as { result: { task: { id: string; status: { state: string }; artifacts: Array<{ parts: Array<{ text: string }> }> } } };
      expect(sent.result.task.id).toBe("a2a-demo~m-1");
      expect(sent.result.task.status.state).toBe("TASK_STATE_COMPLETED");
      expect(sent.result.task.artifacts[0]?.parts[0]?.text).toBe("Hello! I am the echo agent. You said: hello");
      const got = JSON.parse(await sh("a2aGetTask")) as { result: { id: string; status: { state: string } } };
      expect(got.result).toMatchObject({ id: "a2a-demo~m-1", status: { state: "TASK_STATE_COMPLETED" } });
      const viaGrpc = JSON.parse(await sh("a2aGrpcGetTask")) as { id: string; status: { state: string } };
      expect(viaGrpc).toMatchObject({ id: "a2a-demo~m-1", status: { state: "TASK_STATE_COMPLETED" } });
    });

    it("docs/flows.md: ReloadFlows reloads the flow directory and lists what it loaded", async () => {
      const { stdout } = await run("bash", ["-c", adapt(command("reloadFlowsRpc"), port)], { timeout: 20_000 });
      expect(JSON.parse(stdout)).toEqual({ loaded: ["assistant@1", "contact-centre@1"] });
    });
  });

  it("docs/flows.md: kill -HUP reloads the flows of a running switchboard serve", async () => {
    // The server runs as an installed `switchboard` command does, so its
    // command line says "switchboard serve". pgrep is narrowed to this
    // test's own children: the machine may run other servers.
    const dir = mkdtempSync(join(tmpdir(), "switchboard-docs-"));
    let server: Proc | undefined;
    try {
      const flows = join(dir, "flows");
      const bin = join(dir, "bin");
      for (const d of [flows, bin]) mkdirSync(d);
      copyFileSync(join(repoRoot, "flows/assistant.json"), join(flows, "assistant.json"));
      symlinkSync(switchboardCommand, join(bin, "switchboard"));
      const { stdout: pgrep } = await run("bash", ["-c", "command -v pgrep"]);
      writeFileSync(join(bin, "pgrep"), `#!/bin/sh\nexec '${pgrep.trim()}' -P ${process.pid} "$@"\n`, { mode: 0o755 });
      const path = `${bin}:${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;
      server = startCommand(join(bin, "switchboard"), ["serve", "--port", "0", "--flows", flows], { PATH: path }, "switchboard serve");
      const port = Number(jsonLine(await server.waitForLine((l) => jsonLine(l)?.["msg"] === "listening"))?.["port"]);
      const flow = { id: "reloaded", version: "1", stages: [{ name: "only", agent: "echo", transitions: [{ to: "only" }] }] };
      writeFileSync(join(flows, "reloaded.json"), JSON.stringify(flow));

      // From a file, as a shell would run it: `bash -c` would put the
      // pattern on bash's own command line, where pgrep finds it too.
      writeFileSync(join(dir, "reload.sh"), `${command("reloadFlowsSignal")}\n`);
      await run("bash", [join(dir, "reload.sh")], { env: { ...process.env, PATH: path }, timeout: 20_000 });
      await server.waitForLine((l) => jsonLine(l)?.["msg"] === "flows reloaded");
      const { stdout } = await run(inject("grpcurl"), ["-plaintext", `127.0.0.1:${port}`, "switchboard.v1.OrchestratorService/ListFlows"]);
      expect(stdout).toContain('"reloaded"');
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("with the sample echo agent", () => {
    let agent: Proc & { url: string };

    beforeAll(async () => {
      agent = await startEchoAgentProcess();
    });

    afterAll(async () => {
      await agent?.stop();
    });

    it("docs/sessions-and-mongodb.md: serve with MONGODB_URI keeps sessions in that database", async () => {
      const db = `switchboard_docs_${randomBytes(4).toString("hex")}`;
      const uri = new URL(inject("mongoUri"));
      uri.pathname = `/${db}`;
      const line = command("mongoServe");
      const adapted = `${line.replace(/mongodb:\/\/\S+/, uri.toString()).replace("http://127.0.0.1:7001", agent.url)} --port 0`;
      expect(adapted).not.toBe(`${line} --port 0`);
      const server = startCommand("bash", ["-c", adapted], {}, "serve with MONGODB_URI");
      const client = new MongoClient(inject("mongoUri"));
      try {
        const port = Number(jsonLine(await server.waitForLine((l) => jsonLine(l)?.["msg"] === "listening", 60_000))?.["port"]);
        const turn = `{"session_id":"docs-mongo","input":{"text":"hello"}}`;
        await run(inject("grpcurl"), ["-plaintext", "-d", turn, `127.0.0.1:${port}`, "switchboard.v1.OrchestratorService/SendTurn"]);
        expect(await client.db(db).collection("sessions").countDocuments({})).toBe(1);
      } finally {
        await server.stop();
        await client.db(db).dropDatabase();
        await client.close();
      }
    }, 90_000);

    it("docs/writing-agents.md: the conformance kit passes the sample agent", async () => {
      const adapted = command("conformance").replace("http://127.0.0.1:7002", agent.url);
      expect(adapted).toContain(agent.url);
      const { stdout } = await run("bash", ["-c", adapted], { cwd: repoRoot, timeout: 90_000 });
      expect(stdout).toMatch(/^PASS {2}/m);
      expect(stdout).not.toMatch(/^FAIL {2}/m);
    }, 90_000);
  });

  it("docs/writing-agents.md: the Python and Go agents' setup commands are scripts that CI runs", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const ci = readFileSync(join(repoRoot, ".ci/run"), "utf8");
    // Running them here would rebuild the shared .venv and Go binary under
    // the tests that use them; .ci/run runs them before every `npm test`.
    for (const key of ["pythonSetup", "goBuild"] as const) {
      const script = /^npm run (\S+)/.exec(command(key))?.[1] ?? "";
      expect(pkg.scripts[script], script).toBeDefined();
      expect(ci).toMatch(new RegExp(`^npm run (-s )?${script}$`, "m"));
    }
    expect(pkg.scripts["agents:go:build"]).toContain(".cache/bin/switchboard-go-agent");
  });
});
