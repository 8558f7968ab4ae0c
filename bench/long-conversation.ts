// Turn cost over a long conversation: one conversation whose turns
// alternate between two orchestrator replicas on one database, and one on a
// single replica, each grown to 1,000 turns. A turn's work must not grow
// with the session: the p50 latency around version 1,000 is compared with
// the p50 around version 10 (goal: at most 1.5×). Both are measured turn by
// turn in alternation — a turn of the long conversation, then a turn of a
// short one at versions 1 to 20 — so both see the same machine.
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

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

/** Conversation is one session taken turn by turn, each turn to the replica `pick` names. */
class Conversation {
  version = 0;
  constructor(
    private readonly clients: ReturnType<typeof createClient<typeof OrchestratorService>>[],
    readonly sessionId: string,
    private readonly pick: (version: number) => number,
  ) {}

  /** turn runs the next turn and returns its latency (ms). */
  async turn(): Promise<number> {
    const client = this.clients[this.pick(this.version)] as (typeof this.clients)[number];
    const t0 = performance.now();
    await client.sendTurn({ sessionId: this.sessionId, turnId: `t${this.version + 1}`, input: { text: "and then?" } });
    this.version++;
    return performance.now() - t0;
  }
}

/**
 * measure grows a long conversation to `turns - 10` versions, then takes
 * 20 turns of it (around version `turns`) alternating with 20 turns of
 * short conversations (versions 1 to 20), and returns both latency sets
 * and the whole growth curve.
 */
async function measure(urls: string[], name: string, pick: (version: number) => number) {
  const clients = urls.map((baseUrl) => createClient(OrchestratorService, createGrpcTransport({ baseUrl })));
  const long = new Conversation(clients, `${name}-long`, pick);
  const curve: number[] = [];
  while (long.version < turns - 10) {
    curve.push(await long.turn());
    if (long.version % 200 === 0) log(`${name}: ${long.version} turns`);
  }
  const late: number[] = [];
  const early: number[] = [];
  for (let round = 0; round < 3; round++) {
    const short = new Conversation(clients, `${name}-short-${round}`, pick);
    for (let i = 0; i < 20; i++) {
      const t = await long.turn();
      curve.push(t);
      late.push(t);
      const e = await short.turn();
      if (short.version >= 5 && short.version <= 15) early.push(e);
    }
  }
  return { early, late, curve, lateVersion: long.version };
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
  const alternating = await measure([a.url, b.url], "alternating", (v) => v % 2);
  log(`one replica: ${turns} turns`);
  const single = await measure([a.url], "single", () => 0);

  const rows = [
    { name: "two replicas, alternating", m: alternating },
    { name: "one replica", m: single },
  ].map(({ name, m }) => {
    const early = median(m.early);
    const late = median(m.late);
    return { name, early, late, ratio: late / early, met: late / early <= 1.5, lateVersion: m.lateVersion };
  });
  const late = turns;
  const table = [
    `| conversation | p50 at versions 5–15 (ms) | p50 at versions ${late - 10}–${late + 50} (ms) | ratio | goal ≤ 1.5 |`,
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.name} | ${r.early.toFixed(1)} | ${r.late.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.met ? "met" : "missed"} |`),
  ].join("\n");
  process.stdout.write(`${table}\n`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "long-conversation.json"), `${JSON.stringify({ turns, database: "FerretDB (SQLite backend)", filler, cpus: cpus.note, rows, curves: { alternating: alternating.curve, single: single.curve } }, null, 1)}\n`);
  writeFileSync(join(outDir, "long-conversation.md"), `# Turn cost over a long conversation\n\n${turns} turns per conversation, FerretDB (SQLite backend) holding ${filler} other versions; ${cpus.note}.\n\n${table}\n`);
  if (rows.some((r) => !r.met)) process.exitCode = 1;
} finally {
  await Promise.all(children.map((c) => c.stop()));
  rmSync(ferretDir, { recursive: true, force: true });
}
