// What-if replay throughput: recorded 10-turn sessions stored in MongoDB
// (FerretDB here), replayed against a flow version with the recorded agent
// replies (no agent runs), next to the live turn rate of the same server.
// Usage: npm run bench:replay [-- --sessions N] [-- --out DIR]
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ensureFerretDb } from "../test/support/ferretdb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { built, type Child, planCpus, repoRoot, startChild, switchboard } from "./lib/children.js";

const run = promisify(execFile);
const { values } = parseArgs({ options: { sessions: { type: "string", default: "100" }, out: { type: "string" } } });
const sessions = Number(values.sessions);
const turnsPerSession = 10;
const concurrency = 8;
const outDir = values.out ?? join(repoRoot, "bench/results");
const logDir = join(outDir, "logs");
const cpus = planCpus();
const children: Child[] = [];
const log = (msg: string) => process.stderr.write(`[replay] ${msg}\n`);
const start = async (name: string, command: string[], env?: NodeJS.ProcessEnv) => {
  const c = await startChild({ name, command, cpus, logDir, ...(env ? { env } : {}) });
  children.push(c);
  return c;
};

const ferretDir = mkdtempSync(join(tmpdir(), "switchboard-replay-"));
try {
  const db = await start("ferretdb", [
    ensureFerretDb(), "--handler=sqlite", `--sqlite-url=file:${ferretDir}/`, "--listen-addr=127.0.0.1:{port}",
    `--state-dir=${ferretDir}`, "--telemetry=disable", "--log-level=warn", "--debug-addr=-",
  ]);
  const agent = await start("agent", built("agents/echo/main.ts", "--port", "{port}"));
  const server = await start(
    "orchestrator",
    switchboard("serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1", "--agent", `echo=${agent.url}`),
    { MONGODB_URI: `mongodb://127.0.0.1:${db.port}/`, SWITCHBOARD_DB: "bench_replay" },
  );
  const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: server.url }));

  // Live: the sessions to replay, recorded by running them, 8 at a time.
  log(`live: ${sessions} sessions of ${turnsPerSession} turns, ${concurrency} at a time`);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let s = next++; s < sessions; s = next++) {
        for (let t = 0; t < turnsPerSession; t++) {
          await client.sendTurn({ sessionId: `replay-${s}`, flowId: "bench-1", turnId: `t${t}`, input: { text: `turn ${t} of session ${s}` } });
        }
      }
    }),
  );
  const liveSeconds = (performance.now() - t0) / 1000;
  const liveTurns = (sessions * turnsPerSession) / liveSeconds;

  // Replay: every stored session, read through the server, replayed in memory.
  log(`replay: ${sessions} sessions against bench-1@1`);
  const r0 = performance.now();
  const { stdout } = await run(
    process.execPath,
    ["bin/switchboard.js", "replay", "--from", "bench-1", "--limit", String(sessions), "--flow", "bench-1@1", "--flows", "bench/flows", "--server", server.url, "--json"],
    { cwd: repoRoot, maxBuffer: 64 << 20 },
  );
  const replaySeconds = (performance.now() - r0) / 1000;
  const report = JSON.parse(stdout) as { summary?: { replayed?: number; departed?: number } };
  const replayed = report.summary?.replayed ?? NaN;
  const rows = [
    `| | sessions | turns | seconds | per second |`,
    `|---|---:|---:|---:|---:|`,
    `| live turns (SendTurn, echo agent, ${concurrency} sessions at a time) | ${sessions} | ${sessions * turnsPerSession} | ${liveSeconds.toFixed(2)} | ${liveTurns.toFixed(0)} turns |`,
    `| replay (switchboard replay --from, recorded replies, one process) | ${replayed} | ${replayed * turnsPerSession} | ${replaySeconds.toFixed(2)} | ${(replayed / replaySeconds).toFixed(1)} sessions (${((replayed * turnsPerSession) / replaySeconds).toFixed(0)} turns) |`,
  ].join("\n");
  process.stdout.write(`${rows}\n`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, "replay-throughput.md"),
    `# What-if replay throughput\n\n${sessions} recorded sessions of ${turnsPerSession} turns on FerretDB (SQLite backend); ${cpus.note}. The replay time includes starting the command, listing the sessions and reading each one's steps and snapshots through the server.\n\n${rows}\n`,
  );
  if (!(replayed === sessions) || (report.summary?.departed ?? 0) !== 0) {
    log(`expected ${sessions} sessions replayed without departing, got ${JSON.stringify(report.summary)}`);
    process.exitCode = 1;
  }
} finally {
  await Promise.all(children.map((c) => c.stop()));
  rmSync(ferretDir, { recursive: true, force: true });
}
