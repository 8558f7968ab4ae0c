// Turn cost over a long conversation: one conversation whose turns
// alternate between two orchestrator replicas on one database, and one on a
// single replica, each 1,000 turns long. A turn's work must not grow with
// the session: the p50 latency around version 1,000 is compared with the
// p50 around version 10 (goal: at most 1.5×).
// Usage: npm run bench:long [-- --turns N] [-- --out DIR]
//
// FerretDB 1.x answers every read by `_id` by scanning the collection, so
// on it a read costs more as the collection grows, whichever session the
// documents belong to. A database in use holds many sessions; the
// benchmark first fills the database with other sessions' versions (10 per
// turn to come), so the figures show what grows with the session itself,
// not with an empty database filling up.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MongoClient } from "mongodb";
import { ensureFerretDb } from "../test/support/ferretdb.js";
import { OrchestratorService } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { built, type Child, planCpus, repoRoot, startChild, switchboard } from "./lib/children.js";

const { values } = parseArgs({ options: { turns: { type: "string", default: "1000" }, out: { type: "string" } } });
const turns = Number(values.turns);
const outDir = values.out ?? join(repoRoot, "bench/results");
const logDir = join(outDir, "logs");
const cpus = planCpus();
const children: Child[] = [];
const log = (msg: string) => process.stderr.write(`[long] ${msg}\n`);
const start = async (name: string, command: string[], env?: NodeJS.ProcessEnv) => {
  const c = await startChild({ name, command, cpus, logDir, ...(env ? { env } : {}) });
  children.push(c);
  return c;
};

/** p50 is the median of the latencies of turns whose version is within `around ± half`. */
function p50(latencies: number[], around: number, half: number): number {
  const window = latencies.slice(Math.max(0, around - half - 1), around + half).sort((a, b) => a - b);
  return window[Math.floor(window.length / 2)] ?? NaN;
}

/** conversation runs `turns` turns of one session, each to the replica `pick(i)` names, and returns each turn's latency (ms). */
async function conversation(urls: string[], sessionId: string, pick: (i: number) => number): Promise<number[]> {
  const clients = urls.map((baseUrl) => createClient(OrchestratorService, createGrpcTransport({ baseUrl })));
  const latencies: number[] = [];
  for (let i = 0; i < turns; i++) {
    const client = clients[pick(i)] as (typeof clients)[number];
    const t0 = performance.now();
    await client.sendTurn({ sessionId, turnId: `t${i}`, input: { text: "and then?" } });
    latencies.push(performance.now() - t0);
    if ((i + 1) % 200 === 0) log(`${sessionId}: ${i + 1} turns`);
  }
  return latencies;
}

const ferretDir = mkdtempSync(join(tmpdir(), "switchboard-long-"));
try {
  const db = await start("ferretdb", [
    ensureFerretDb(), "--handler=sqlite", `--sqlite-url=file:${ferretDir}/`, "--listen-addr=127.0.0.1:{port}",
    `--state-dir=${ferretDir}`, "--telemetry=disable", "--log-level=warn", "--debug-addr=-",
  ]);
  const mongoUri = `mongodb://127.0.0.1:${db.port}/`;
  const database = "bench_long";
  const agent = await start("agent", built("agents/echo/main.ts", "--port", "{port}"));
  const serve = (name: string) =>
    start(name, switchboard("serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1", "--agent", `echo=${agent.url}`), {
      MONGODB_URI: mongoUri,
      SWITCHBOARD_DB: database,
    });
  const [a, b] = [await serve("replica-a"), await serve("replica-b")];

  // Other sessions' versions, as a database in use holds them.
  const filler = 10 * turns;
  log(`filling the database with ${filler} versions of other sessions`);
  const mongo = await MongoClient.connect(mongoUri);
  const versions = mongo.db(database).collection("session_versions");
  for (let i = 0; i < filler; i += 1000) {
    await versions.insertMany(
      Array.from({ length: Math.min(1000, filler - i) }, (_, k) => ({ _id: `filler-${i + k}/x/${String(1).padStart(20, "0")}`, session: `filler-${i + k}` })) as never[],
    );
  }
  await mongo.close();

  log(`two replicas, alternating: ${turns} turns`);
  const alternating = await conversation([a.url, b.url], "alternating", (i) => i % 2);
  log(`one replica: ${turns} turns`);
  const single = await conversation([a.url], "single", () => 0);

  const half = 10;
  const late = Math.min(turns, 1000) - half;
  const rows = [
    { name: "two replicas, alternating", early: p50(alternating, 10, half), late: p50(alternating, late, half) },
    { name: "one replica", early: p50(single, 10, half), late: p50(single, late, half) },
  ].map((r) => ({ ...r, ratio: r.late / r.early, met: r.late / r.early <= 1.5 }));
  const table = [
    `| conversation | p50 at version 10 (ms) | p50 at version ${late} (ms) | ratio | goal ≤ 1.5 |`,
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.name} | ${r.early.toFixed(1)} | ${r.late.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.met ? "met" : "missed"} |`),
  ].join("\n");
  process.stdout.write(`${table}\n`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "long-conversation.json"), `${JSON.stringify({ turns, database: "FerretDB (SQLite backend)", filler, cpus: cpus.note, rows, alternating, single }, null, 1)}\n`);
  writeFileSync(join(outDir, "long-conversation.md"), `# Turn cost over a long conversation\n\n${turns} turns per conversation, FerretDB (SQLite backend) holding ${filler} other versions; ${cpus.note}.\n\n${table}\n`);
  if (rows.some((r) => !r.met)) process.exitCode = 1;
} finally {
  await Promise.all(children.map((c) => c.stop()));
  rmSync(ferretDir, { recursive: true, force: true });
}
