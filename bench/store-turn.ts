// The MongoDB store's per-turn work alone, against the benchmark's database
// server: a turn's reads (load, or the older turnResult + get) and its
// commit, one conversation, turns back to back, both ways in alternation.
// Usage: MONGODB_URI=... tsx bench/store-turn.ts [--turns N]
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SendTurnResponseSchema } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { SessionSchema, SessionStatus, type Session } from "../src/gen/switchboard/v1/session_pb.js";
import { MongoStore } from "../src/store/mongo-store.js";
import { summarize } from "./lib/stats.js";

const { values } = parseArgs({ options: { turns: { type: "string", default: "300" } } });
const store = await MongoStore.open({ uri: process.env["MONGODB_URI"] ?? "", database: `bench_store_${Date.now().toString(36)}`, sweepIntervalMs: 0 });
const sessionAt = (id: string, version: bigint): Session =>
  create(SessionSchema, {
    id, flowId: "bench-1", flowVersion: "1", stage: "chat", state: { turns: Number(version) }, status: SessionStatus.ACTIVE, version,
    updateTime: timestampFromDate(new Date()), expireTime: timestampFromDate(new Date(Date.now() + 3_600_000)),
  });
const ways = {
  "turnResult + get": async (id: string, turnId: string) => {
    await store.turnResult(id, turnId);
    return store.get(id);
  },
  load: async (id: string, turnId: string) => (await store.load(id, turnId)).session,
};
const samples: Record<string, number[]> = { "turnResult + get": [], load: [] };
const turns = Number(values.turns);
for (let round = 0; round < 4; round++) {
  for (const [name, read] of Object.entries(ways)) {
    const id = `${name.replace(/\W+/g, "-")}-${round}`;
    for (let i = 1; i <= turns / 4; i++) {
      const t0 = performance.now();
      const current = await read(id, `t${i}`);
      const next = sessionAt(id, (current?.version ?? 0n) + 1n);
      await store.commit({
        session: next, expectedVersion: next.version - 1n, reason: "turn", steps: [],
        turn: { turnId: `t${i}`, result: create(SendTurnResponseSchema, { sessionId: id, turnId: `t${i}`, output: "ok" }) },
      });
      if (i > 5) samples[name]?.push(performance.now() - t0);
    }
  }
}
for (const [name, s] of Object.entries(samples)) {
  const x = summarize(s);
  console.log(`${name.padEnd(18)} p50 ${x.p50.toFixed(2)} ms  p99 ${x.p99.toFixed(2)} ms  (${x.count} turns)`);
}
await store.close();
