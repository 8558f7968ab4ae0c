// Switchboard's benchmark: every scenario in one run on one machine, with
// ratios taken in the same run. See bench/README.md.
// Usage: npm run bench [-- --quick] [-- --out DIR] [-- --only startup|capacity] [-- --profile C]
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ensureFerretDb } from "../test/support/ferretdb.js";
import type { CapacityResult } from "./lib/capacity.js";
import { capacityAlone, capacityEnv, measureCapacity } from "./lib/capacity-scenario.js";
import { built, type Child, planCpus, repoRoot, startChild, switchboard, tsx } from "./lib/children.js";
import { agentClient, type ClientStack, orchestratorClient, type TurnTiming } from "./lib/clients.js";
import { converseAvailable, ConverseSession } from "./lib/converse.js";
import { runLoad } from "./lib/load.js";
import { turnStart, userText } from "./lib/payload.js";
import { cpuSeconds, memory, resetPeak } from "./lib/proc-stats.js";
import { profileScenarioC } from "./lib/profile-scenario.js";
import { type BenchReport, capacityMarkdown, markdownReport, type Row, startupMarkdown, svgChart, type Target } from "./lib/report.js";
import { summarize, type Summary } from "./lib/stats.js";
import { measureStartups } from "./lib/startup.js";
import { evaluate, startupTarget } from "./lib/targets.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    // Runs one scenario alone and prints its figures (no results files).
    only: { type: "string" },
    // Runs one scenario under --cpu-prof instead (results under OUT/profiles/).
    profile: { type: "string" },
  },
});
if (values.profile !== undefined && values.profile !== "C") throw new Error(`--profile: "${values.profile}" is not a scenario that is profiled; C is`);
if (values.only !== undefined && values.only !== "startup" && values.only !== "capacity") {
  throw new Error(`--only: "${values.only}" is not a scenario that runs alone; startup and capacity are`);
}
const quick = values.quick === true;
const outDir = values.out ?? join(repoRoot, "bench/results", quick ? "quick" : "");
const logDir = join(outDir, "logs");
const began = Date.now();

// Settings: the full run fits in ten minutes on two cores; the quick one in
// well under one (it proves the scenarios run, not how fast).
const plan = quick
  ? { concurrency: [1, 8], rounds: 1, warmupMs: 200, sliceMs: 500, idleStreams: 200, connections: 2, capacityCapSeconds: 40, bytesTurns: 10, engineTurns: 300, foau: 100, capSeconds: 40, starts: 3 }
  : { concurrency: [1, 16, 64, 256], rounds: 2, warmupMs: 600, sliceMs: 2500, idleStreams: 100_000, connections: 100, capacityCapSeconds: 300, bytesTurns: 200, engineTurns: 3000, foau: 1000, capSeconds: 90, starts: 10 };
// Scenario F: 1,000 idle streams per connection, a tenth of what one may
// carry; opening and settling 100,000 takes minutes per system (own cap).
// A scenario that outlasts its cap (a stuck or saturated system) is cut
// short and reported as incomplete instead of holding up the run.
const capMs = plan.capSeconds * 1000;
const incomplete: string[] = [];

/** capped runs one scenario for at most `capMs`; past it, records it as incomplete and returns `fallback`. */
async function capped<T>(name: string, work: (deadline: number) => Promise<T>, fallback: () => T, cap = capMs): Promise<T> {
  const deadline = Date.now() + cap;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => {
    timer = setTimeout(() => r("late"), cap + 5_000);
  });
  try {
    const running = work(deadline);
    running.catch(() => undefined); // a failure after the cap is already reported as incomplete
    const out = await Promise.race([running, late]);
    if (out !== "late") return out;
  } finally {
    clearTimeout(timer);
  }
  incomplete.push(`${name}: cut short after ${Math.round(cap / 1000)} s`);
  log(`${name}: incomplete (cut short after ${Math.round(cap / 1000)} s)`);
  return fallback();
}

const log = (msg: string) => process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);

/** ensureBenchDeps installs the benchmark's own dependencies (LangGraph) on a clean checkout. */
function ensureBenchDeps(): void {
  if (existsSync(join(repoRoot, "bench/node_modules/@langchain/langgraph-checkpoint-mongodb"))) return;
  log("installing the benchmark's dependencies (npm ci --legacy-peer-deps --prefix bench)");
  execFileSync("npm", ["ci", "--legacy-peer-deps", "--no-audit", "--no-fund", "--prefix", join(repoRoot, "bench")], {
    stdio: ["ignore", "inherit", "inherit"],
  });
}

mkdirSync(logDir, { recursive: true });
const cpus = planCpus();
log(cpus.note);
if (values.profile !== undefined) {
  const profiled = await profileScenarioC({ outDir, logDir, cpus, quick, log });
  process.stdout.write(profiled.markdown);
  log(`profiles, flame graphs and summary in ${profiled.dir}`);
  process.exit(0);
}

if (values.only === "capacity") {
  // Scenario F alone, at the size of the full run (or --quick's).
  const capacityCap = (name: string, work: (deadline: number) => Promise<CapacityResult>) => capped(name, work, () => undefined, plan.capacityCapSeconds * 1000);
  process.stdout.write(capacityMarkdown(await capacityAlone(cpus, logDir, plan.idleStreams, plan.connections, capacityCap, log)));
  process.exit(0);
}

// Start to SERVING, first: nothing else of the benchmark runs yet.
log(`startup: switchboard serve started ${plan.starts} times, built and through tsx, each until its health check answers SERVING (load average ${loadavg()[0]?.toFixed(2)})`);
const startup = await measureStartups({ built: switchboard(), tsx: tsx("src/cli/main.ts") }, plan.starts, cpus, logDir);
if (values.only === "startup") {
  process.stdout.write(startupMarkdown(startup, [startupTarget(startup)]));
  process.exit(0);
}
ensureBenchDeps();

const children: Child[] = [];
const start = async (name: string, command: string[], env: NodeJS.ProcessEnv = {}) => {
  const c = await startChild({ name, command, env, cpus, logDir });
  children.push(c);
  return c;
};
let ferretDir: string | undefined;
const cleanup = async () => {
  await Promise.all(children.map((c) => c.stop()));
  if (ferretDir !== undefined) rmSync(ferretDir, { recursive: true, force: true });
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void cleanup().then(() => process.exit(130)));
}

try {
  // The database: MONGODB_URI, or a private FerretDB on the systems' CPU.
  let mongoUri = process.env["MONGODB_URI"] ?? "";
  let dbPid: number | undefined;
  let dbNote = "MONGODB_URI";
  if (mongoUri === "") {
    const binary = ensureFerretDb();
    ferretDir = mkdtempSync(join(tmpdir(), "switchboard-bench-ferretdb-"));
    const db = await start("ferretdb", [
      binary, "--handler=sqlite", `--sqlite-url=file:${ferretDir}/`, "--listen-addr=127.0.0.1:{port}",
      `--state-dir=${ferretDir}`, "--telemetry=disable", "--log-level=warn", "--debug-addr=-",
    ]);
    mongoUri = `mongodb://127.0.0.1:${db.port}/`;
    dbPid = db.pid;
    dbNote = "FerretDB (SQLite backend), started by the benchmark";
  }
  const runId = `${Date.now().toString(36)}`;
  const sbDb = `bench_sb_${runId}`;
  const lgDb = `bench_lg_${runId}`;

  log("starting the systems under test");
  const [agentC, agentG] = await Promise.all([
    start("agent-connect", built("agents/echo/main.ts", "--port", "{port}")),
    start("agent-grpc-js", tsx("bench/systems/agent-grpc-js.ts", "--port", "{port}")),
  ]);
  // The orchestrator's own limits would refuse the load itself: 10,000
  // idle streams come from one client address (the default allows 1,000
  // calls per client), and concurrency 256 passes the per-agent bulkhead
  // (64 running, 64 waiting). They are raised so the benchmark measures the
  // serving path, not the guard rails.
  const servingLimits = ["--max-streams-per-token", "0", "--agent-max-turns", "512", "--agent-max-queue", "512"];
  const serve = (name: string, ...extra: string[]) =>
    start(name, switchboard("serve", "--port", "{port}", "--flows", "bench/flows", "--default-flow", "bench-1", "--agent", `echo=${agentC.url}`, ...servingLimits, ...extra), name === "switchboard-memory" ? capacityEnv : {});
  const [relayC, relayG, relayGC, sbMem, sbMemG, sbMongo, lg, bareC, bareG] = await Promise.all([
    start("relay-connect", tsx("bench/systems/relay-connect.ts", "--port", "{port}", "--upstream", agentC.url)),
    start("relay-grpc-js", tsx("bench/systems/relay-grpc-js.ts", "--port", "{port}", "--upstream", agentG.url)),
    // The fair pair for C's throughput: the fastest relay stack, calling
    // the same agent as C (Switchboard's agent, on connect-node).
    start("relay-grpc-js-connect-agent", tsx("bench/systems/relay-grpc-js.ts", "--port", "{port}", "--upstream", agentC.url)),
    serve("switchboard-memory"),
    serve("switchboard-memory-grpc-js", "--agent-transport", "grpc-js"),
    serve("switchboard-mongodb", "--mongodb-uri", mongoUri, "--db", sbDb),
    start("langgraph-mongodb", tsx("bench/systems/langgraph-server.ts", "--port", "{port}", "--agent", agentC.url, "--mongodb-uri", mongoUri, "--db", lgDb)),
    start("bare-converse-connect", tsx("bench/systems/bare-converse-connect.ts", "--port", "{port}")),
    start("bare-converse-grpc-js", tsx("bench/systems/bare-converse-grpc-js.ts", "--port", "{port}")),
  ]);
  const dbPids = dbPid === undefined ? [] : [dbPid];

  // Converse is the streaming API: used for C and D where the server has it
  // (time to first delta), else SendTurn.
  const probe = orchestratorClient(sbMem.url);
  const hasConverse = await converseAvailable(probe.client, "bench-1", userText).catch(() => false);
  probe.close();
  log(hasConverse ? "Converse is available: C and D stream their turns" : "Converse is not available here: C and D use SendTurn (no time to first delta)");

  /** A system under test: how to run one turn of one virtual user. */
  interface System {
    key: string;
    label: string;
    /** The system's own process (for RSS) and every process it needs (for CPU). */
    main: Child;
    pids: number[];
    /** The highest concurrency it runs at (the database-backed systems stop where the database saturates). */
    maxConcurrency?: number;
    /** Makes the per-concurrency client state; returns the turn function and a cleanup. */
    client(concurrency: number): { turn: (vu: number, n: number) => Promise<TurnTiming>; close(): void };
  }

  const direct = (key: string, label: string, target: Child, stack: ClientStack, via: Child[] = []): System => ({
    key, label, main: via[0] ?? target, pids: [...via.map((v) => v.pid), target.pid],
    client(concurrency) {
      const c = agentClient((via[0] ?? target).url, stack);
      const starts = Array.from({ length: concurrency }, (_, vu) => turnStart(`${key}-${vu}`, 10));
      return { turn: (vu) => c.turn(starts[vu] as ReturnType<typeof turnStart>), close: () => c.close() };
    },
  });

  let turnSeq = 0;
  const orchestrated = (key: string, label: string, main: Child, flowId: string, pids: number[], streaming: boolean): System => ({
    key, label, main, pids: [main.pid, ...pids],
    client(concurrency) {
      const { client, close } = orchestratorClient(main.url);
      if (streaming) {
        const sessions = Array.from({ length: concurrency }, (_, vu) => new ConverseSession(client, `${key}-c${concurrency}-${vu}`, flowId));
        return {
          turn: (vu) => (sessions[vu] as ConverseSession).turn(`t${++turnSeq}`, userText),
          close: () => {
            for (const s of sessions) s.close();
            close();
          },
        };
      }
      return {
        turn: async (vu) => {
          await client.sendTurn({ sessionId: `${key}-c${concurrency}-${vu}`, flowId, turnId: `t${++turnSeq}`, input: { text: userText } }, { timeoutMs: 30_000 });
          return {};
        },
        close,
      };
    },
  });

  // FerretDB's SQLite backend serialises writes: past a few dozen writers
  // its turns queue for seconds (30 s at 64 in a trial run), which measures
  // the database, not the systems, and would take the run past ten minutes.
  // With MONGODB_URI (a real mongod) they run at every concurrency.
  const durableMax = process.env["MONGODB_URI"] ? Infinity : 16;
  const systems: System[] = [
    direct("A-connect", "A direct, connect-node both ends", agentC, "connect"),
    direct("A-grpc-js", "A direct, grpc-js both ends", agentG, "grpc-js"),
    direct("A-mixed", "A direct, Connect client over grpc-js → connect-node agent", agentC, "connect-over-grpc-js"),
    direct("B-connect", "B bare relay, connect-node", agentC, "connect", [relayC]),
    direct("B-grpc-js", "B bare relay, grpc-js", agentG, "grpc-js", [relayG]),
    direct("B-grpc-js-c", "B bare relay, grpc-js → connect-node agent (C's agent)", agentC, "grpc-js", [relayGC]),
    orchestrated("C", "C Switchboard, memory store", sbMem, "bench-1", [agentC.pid], hasConverse),
    orchestrated("C-grpc-js", "C Switchboard, memory store, grpc-js agent transport", sbMemG, "bench-1", [agentC.pid], hasConverse),
    { ...orchestrated("D", "D Switchboard, MongoDB store", sbMongo, "bench-1", [agentC.pid, ...dbPids], hasConverse), maxConcurrency: durableMax },
    { ...orchestrated("D-3", "D Switchboard, MongoDB store, 3 chained stages", sbMongo, "bench-3", [agentC.pid, ...dbPids], false), maxConcurrency: durableMax },
    { ...orchestrated("E-3", "E LangGraph, MongoDB checkpointer, 3 nodes", lg, "bench-3", [agentC.pid, ...dbPids], false), maxConcurrency: durableMax },
  ];

  // Each concurrency: every system in turn, in rounds, so that a slow
  // patch of a shared machine hits all of them alike.
  const rows: Row[] = [];
  for (const concurrency of plan.concurrency) {
    const acc = new Map<string, { lat: number[]; ttfd: number[]; done: number; ms: number; cpu: number; peak: number; errors: number; firstError?: string }>();
    for (let round = 0; round < plan.rounds; round++) {
      for (const sys of systems.filter((x) => concurrency <= (x.maxConcurrency ?? Infinity))) {
        log(`c=${concurrency} round ${round + 1}/${plan.rounds}: ${sys.key}`);
        const client = sys.client(concurrency);
        let cpu0 = 0;
        const res = await runLoad({
          concurrency,
          warmupMs: plan.warmupMs,
          durationMs: plan.sliceMs,
          turn: client.turn,
          onMeasureStart: () => {
            resetPeak(sys.main.pid);
            cpu0 = sys.pids.reduce((s, p) => s + cpuSeconds(p), 0);
          },
        });
        const cpu = sys.pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
        client.close();
        const a = acc.get(sys.key) ?? { lat: [], ttfd: [], done: 0, ms: 0, cpu: 0, peak: 0, errors: 0 };
        a.lat.push(...res.latencies);
        a.ttfd.push(...res.ttfds);
        a.done += res.throughput * (res.measuredMs / 1000);
        a.ms += res.measuredMs;
        a.cpu += cpu;
        a.peak = Math.max(a.peak, memory(sys.main.pid).peak);
        a.errors += res.errors;
        if (res.firstError !== undefined) a.firstError ??= res.firstError;
        acc.set(sys.key, a);
      }
    }
    for (const sys of systems) {
      const a = acc.get(sys.key);
      if (a === undefined) continue;
      const lat = summarize(a.lat);
      const ttfd: Summary | undefined = a.ttfd.length > 0 ? summarize(a.ttfd) : undefined;
      rows.push({
        system: sys.key,
        label: sys.label,
        concurrency,
        p50: lat.p50,
        p99: lat.p99,
        throughput: a.done / (a.ms / 1000),
        ttfdP50: ttfd?.p50 ?? null,
        ttfdP99: ttfd?.p99 ?? null,
        cpuCores: a.cpu / (a.ms / 1000),
        cpuMsPerTurn: a.done > 0 ? (a.cpu / a.done) * 1000 : null,
        peakRssMiB: a.peak / (1 << 20),
        turns: lat.count,
        errors: a.errors,
        ...(a.firstError !== undefined ? { firstError: a.firstError } : {}),
      });
    }
  }

  // One bare findOneAndUpdate on the same server, from the load generator,
  // with the driver the product uses.
  log("bare findOneAndUpdate on the database");
  const productRequire = createRequire(join(repoRoot, "package.json"));
  const mongodb = (await import(pathToFileURL(productRequire.resolve("mongodb")).href)) as typeof import("mongodb");
  const mc = new mongodb.MongoClient(mongoUri);
  await mc.connect();
  const probeColl = mc.db(sbDb).collection<{ _id: string; n: number }>("bench_probe");
  await probeColl.insertOne({ _id: "probe", n: 0 });
  const foauSamples: number[] = [];
  for (let i = 0; i < plan.foau + 50; i++) {
    const t0 = performance.now();
    await probeColl.findOneAndUpdate({ _id: "probe" }, { $inc: { n: 1 } }, { returnDocument: "after" });
    if (i >= 50) foauSamples.push(performance.now() - t0);
  }
  const foau = summarize(foauSamples);

  // Bytes stored per turn: one conversation of N turns on each durable
  // system, then every document it left, measured as BSON. Each runs on a
  // fresh database of its own: FerretDB's SQLite backend pushes down only
  // exact-_id filters, so LangGraph's checkpoint reads (filter by thread,
  // sort by checkpoint id) scan the whole collection, and in the load
  // rounds' database that would make each of its 200 turns slower than the
  // last. The figure is per conversation either way.
  log(`bytes stored: a ${plan.bytesTurns}-turn conversation on D and on E, each on a fresh database`);
  const sbBytesDb = `bench_sb_bytes_${runId}`;
  const lgBytesDb = `bench_lg_bytes_${runId}`;
  const [sbBytes, lgBytes] = await Promise.all([
    serve("switchboard-mongodb-bytes", "--mongodb-uri", mongoUri, "--db", sbBytesDb),
    start("langgraph-mongodb-bytes", tsx("bench/systems/langgraph-server.ts", "--port", "{port}", "--agent", agentC.url, "--mongodb-uri", mongoUri, "--db", lgBytesDb)),
  ]);
  /** Runs the conversation until done or the deadline; returns the turns it completed. */
  const done = { d: 0, e: 0 };
  /** Runs the conversation for up to `turns` turns or until the deadline, counting them in `done`. */
  const converse = async (url: string, session: string, which: "d" | "e", turns: number, deadline: number) => {
    const { client, close } = orchestratorClient(url);
    try {
      for (let i = 0; i < turns && Date.now() < deadline; i++) {
        try {
          await client.sendTurn({ sessionId: session, flowId: "bench-3", turnId: `b${i}`, input: { text: userText } }, { timeoutMs: Math.max(1000, deadline - Date.now()) });
        } catch (e) {
          if (Date.now() >= deadline - 1000) break; // the turn that ran into the cap
          throw e;
        }
        done[which]++;
        if (done[which] % 50 === 0) log(`bytes: ${done[which]} turns on ${which === "d" ? "D" : "E"}`);
      }
    } finally {
      close();
    }
  };
  const size = (docs: object[]) => docs.reduce((n, d) => n + mongodb.BSON.calculateObjectSize(d), 0);
  // LangGraph first, as its turns slow down as its checkpoints pile up; it
  // gets what is left of the run's ten minutes after a reserve for the
  // scenarios that follow, and Switchboard then runs as many turns as it
  // completed, so that the two are compared at the same length.
  const eDeadline = quick ? Date.now() + capMs * 2 : Math.min(Date.now() + capMs * 2, began + 460_000);
  await capped("bytes on E", (deadline) => converse(lgBytes.url, "bytes-e", "e", plan.bytesTurns, Math.min(deadline, eDeadline)), () => undefined, capMs * 2);
  await capped("bytes on D", (deadline) => converse(sbBytes.url, "bytes-d", "d", done.e, deadline), () => undefined);
  const sdb = mc.db(sbBytesDb);
  const dBytes =
    size(await sdb.collection("sessions").find({ _id: "bytes-d" as never }).toArray()) +
    size(await sdb.collection("session_versions").find({ session: "bytes-d" }).toArray()) +
    size(await sdb.collection("session_failures").find({ session: "bytes-d" }).toArray());
  const ldb = mc.db(lgBytesDb);
  const eBytes =
    size(await ldb.collection("checkpoints").find({ thread_id: "bytes-e" }).toArray()) +
    size(await ldb.collection("checkpoint_writes").find({ thread_id: "bytes-e" }).toArray());
  const [dTurns, eTurns] = [done.d, done.e];
  for (const [name, turns] of [["bytes on D", dTurns], ["bytes on E", eTurns]] as const) {
    if (turns < plan.bytesTurns) incomplete.push(`${name}: ${turns} of ${plan.bytesTurns} turns done`);
  }
  await Promise.all([sbBytes.stop(), lgBytes.stop()]);

  // Engine overhead: in-process, its own child on the systems' CPU.
  log("engine overhead: Switchboard's engine vs LangGraph, in-process");
  const noEngine = { switchboard: summarize([]), langgraph: summarize([]) };
  const engine = await capped("engine overhead", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        cpus.pinned ? "taskset" : process.execPath,
        [...(cpus.pinned ? ["-c", cpus.sut, process.execPath] : []), "--import", "tsx", "bench/systems/engine-overhead.ts", "--turns", String(plan.engineTurns), "--warmup", String(Math.round(plan.engineTurns / 5))],
        { cwd: repoRoot, encoding: "utf8", timeout: capMs },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    }).catch((e: unknown) => {
      log(`engine overhead failed: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    });
    if (out === undefined) {
      incomplete.push("engine overhead: the child failed or timed out");
      return noEngine;
    }
    return JSON.parse(out.trim().split("\n").pop() as string) as { switchboard: Summary; langgraph: Summary };
  }, () => noEngine);

  // Capacity: idle Converse streams.
  const capacity: Record<string, CapacityResult> = await measureCapacity(
    [["bare-connect", bareC], ["bare-grpc-js", bareG], ["switchboard", sbMem]],
    plan.idleStreams,
    plan.connections,
    (name, work) => capped(name, work, () => undefined, plan.capacityCapSeconds * 1000),
    log,
  );

  for (const name of [sbDb, lgDb, sbBytesDb, lgBytesDb]) await mc.db(name).dropDatabase().catch(() => undefined);
  await mc.close();

  const report: BenchReport = {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpus: cpus.note,
    loadAverage: loadavg().map((v) => Number(v.toFixed(2))),
    database: dbNote,
    converse: hasConverse,
    plan,
    rows,
    findOneAndUpdate: foau,
    bytesPerTurn: { turns: Math.min(dTurns, eTurns), switchboardTurns: dTurns, langgraphTurns: eTurns, switchboard: dBytes / dTurns, langgraph: eBytes / eTurns },
    engine,
    capacity,
    startup,
    targets: [] as Target[],
    incomplete,
    seconds: (Date.now() - began) / 1000,
  };
  report.targets = evaluate(report);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  const md = markdownReport(report);
  writeFileSync(join(outDir, "latest.md"), md);
  writeFileSync(join(outDir, "latency.svg"), svgChart(report));
  process.stdout.write(`${md}\n`);
  log(`done in ${report.seconds.toFixed(0)}s; results in ${outDir}`);
} finally {
  await cleanup();
}
