import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OrchestratorService, type SessionEvent, SendTurnView } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { connectClient, type EventStream } from "./support/converse-clients.js";
import { historyFacts } from "./support/history-facts.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { Talker, talkFlowDir } from "./support/talker-agent.js";

const acme = "a-token-of-tenant-acme-for-the-watch-test";
const globex = "a-token-of-tenant-globex-for-the-watch-test";

/**
 * Two orchestrator processes on one database (FerretDB), a real agent
 * streaming its replies word by word, and clients over gRPC: a
 * WatchSession on replica 2 shows a session's live events whichever
 * replica runs its turns, the same events at the same seqs as the stream
 * that runs the turn sees, and ends with UNAVAILABLE when the replica
 * running the turn dies.
 */
describe("WatchSession on any replica", () => {
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_watch_${randomBytes(4).toString("hex")}` };
  const talker = new Talker();
  let r1: RunningOrchestrator;
  let r2: RunningOrchestrator;
  /** The watcher on replica 2 that the first tests share. */
  let watcher: EventStream;
  let args: string[];

  const transport = (r: RunningOrchestrator, token: string, headers: Record<string, string> = {}) =>
    createGrpcTransport({
      baseUrl: r.url,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
          return next(req);
        },
      ],
    });
  const api = (r: RunningOrchestrator, token = acme) => createClient(OrchestratorService, transport(r, token));
  const streams = (r: RunningOrchestrator, token = acme) => connectClient(r.url, transport(r, token));
  const textOf = (s: EventStream, turnId: string) =>
    s.events.map((e) => (e.turnId === turnId && e.kind.case === "output" ? e.kind.value.text : "")).join("");
  const outputsOf = (s: EventStream, turnId: string) => s.events.filter((e) => e.turnId === turnId && e.kind.case === "output");
  const ofTurn = (events: SessionEvent[], turnId: string) => events.filter((e) => e.turnId === turnId);

  /** converse opens a Converse stream on `r` for session w-1 and starts a turn. */
  async function converse(r: RunningOrchestrator, turnId: string, text: string): Promise<EventStream> {
    const owner = streams(r).converse();
    // The watch is compared with this stream event for event: both carry the full session.
    owner.send({ kind: { case: "open", value: { sessionId: "w-1", view: SendTurnView.FULL } } });
    await owner.waitForKind("opened");
    owner.send({ kind: { case: "turn", value: { turnId, input: { text } } } });
    return owner;
  }

  beforeAll(async () => {
    const agent = await talker.start();
    const dir = mkdtempSync(join(tmpdir(), "switchboard-watch-"));
    const tokens = join(dir, "tokens.yaml");
    writeFileSync(tokens, `tokens:\n  - { name: acme-gw, tenant: acme, token: "${acme}" }\n  - { name: globex-gw, tenant: globex, token: "${globex}" }\n`);
    args = ["--flows", talkFlowDir(), "--default-flow", "talk", "--agent", `talker=${agent.url}`, "--auth-tokens", tokens, "--replica-heartbeat", "0.5"];
    r1 = await startOrchestratorProcess(args, env);
    // Replica 2 reads the directory as it starts: it lists replica 1 at once.
    r2 = await startOrchestratorProcess(args, env);
  });
  afterAll(async () => {
    await r1?.stop();
    await r2?.stop();
    await talker.agent?.close();
  });

  it("shows on replica 2 the turn replica 1 runs, word by word as the agent speaks, and where the user barged in", { timeout: 60_000 }, async () => {
    await api(r1).sendTurn({ sessionId: "w-1", turnId: "t1", input: { text: "hello" } });
    watcher = streams(r2).watch({ sessionId: "w-1" });
    await watcher.waitForKind("opened");

    const owner = await converse(r1, "t2", "story:s2");
    // Replica 2's watcher sees the reply grow while the agent still holds
    // the turn on replica 1 (its gate is closed): intermediate deltas, not
    // the final reply.
    await watcher.waitFor(() => textOf(watcher, "t2").includes("a very long story"));
    expect(talker.gate("s2").opened).toBe(false);
    expect(outputsOf(watcher, "t2").length).toBeGreaterThan(5);
    expect(outputsOf(watcher, "t2")[0]?.kind.value).toMatchObject({ text: "Once " });

    owner.send({ kind: { case: "bargeIn", value: { turnId: "t2", heardChars: 9 } } });
    const interrupted = await watcher.waitFor((e) => e.kind.case === "interrupted" && e.turnId === "t2");
    expect(interrupted.kind.case === "interrupted" && interrupted.kind.value.heard).toBe("Once upon");
    await owner.waitForKind("interrupted");
    // The same events at the same seqs as the stream that ran the turn.
    expect(ofTurn(watcher.history(), "t2")).toEqual(ofTurn(owner.history(), "t2"));
    expect(ofTurn(watcher.history(), "t2").map((e) => e.kind.case)).toEqual(["accepted", ...outputsOf(watcher, "t2").map(() => "output"), "interrupted"]);
    owner.end();
    expect((await owner.ended).code).toBe(0);
  });

  it("follows the session to the replica that runs its next turn, and back, missing nothing and sending nothing twice", { timeout: 60_000 }, async () => {
    await api(r2).sendTurn({ sessionId: "w-1", turnId: "t3", input: { text: "on replica two" } });
    await watcher.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3");
    await api(r1).sendTurn({ sessionId: "w-1", turnId: "t4", input: { text: "back on replica one" } });
    await watcher.waitFor((e) => e.kind.case === "completed" && e.turnId === "t4");
    expect(textOf(watcher, "t3")).toBe("You said: on replica two");
    expect(textOf(watcher, "t4")).toBe("You said: back on replica one");

    const history = watcher.history();
    expect(history.every((e, i) => i === 0 || e.seq > (history[i - 1] as SessionEvent).seq)).toBe(true);
    const { session } = await api(r1).getSession({ sessionId: "w-1" });
    expect(history.at(-1)?.seq).toBe(session?.lastSeq);
    // What the watcher saw live is what the stored history replays from
    // where it opened: no event missed, none twice.
    const opened = watcher.events.find((e) => e.kind.case === "opened");
    const from = opened?.kind.case === "opened" ? opened.kind.value.lastSeq : -1n;
    const replay = streams(r1).watch({ sessionId: "w-1", afterSeq: from });
    await replay.waitForKind("opened");
    replay.cancel();
    expect(historyFacts(history).control).toEqual(historyFacts(replay.history()).control);
    expect(historyFacts(history).replies.filter((r) => !r.startsWith("t2:"))).toEqual(historyFacts(replay.history()).replies.filter((r) => !r.startsWith("t2:")));
  });

  it("resumes on replica 2 from a seq in the middle of a turn replica 1 runs, with no gap and no duplicate", { timeout: 60_000 }, async () => {
    const first = streams(r2).watch({ sessionId: "w-1" });
    await first.waitForKind("opened");
    const owner = await converse(r1, "t5", "story:s5");
    await first.waitFor(() => outputsOf(first, "t5").length >= 4);
    const mid = (outputsOf(first, "t5")[1] as SessionEvent).seq;

    const resumed = streams(r2).watch({ sessionId: "w-1", afterSeq: mid });
    const opened = await resumed.waitForKind("opened");
    expect(opened.kind.case === "opened" && opened.kind.value.replayed).toBeGreaterThan(0n);
    talker.gate("s5").open();
    await first.waitFor((e) => e.kind.case === "completed" && e.turnId === "t5");
    await resumed.waitFor((e) => e.kind.case === "completed" && e.turnId === "t5");
    expect(resumed.history()).toEqual(first.history().filter((e) => e.seq > mid));
    expect(textOf(first, "t5")).toMatch(/^Once upon a time .* to the end\. The end\.$/);
    for (const s of [first, resumed, owner]) s.cancel();
    // A seq no replica has reached is refused, as on one replica.
    const beyond = streams(r2).watch({ sessionId: "w-1", afterSeq: (first.history().at(-1) as SessionEvent).seq + 1000n });
    expect(await beyond.ended).toMatchObject({ code: Code.OutOfRange });
    expect(beyond.events).toEqual([]);
  });

  it("keeps the stream exact when turns race on both replicas: what it shows, resumed where it says, is the stored history", { timeout: 90_000 }, async () => {
    await api(r1).sendTurn({ sessionId: "race-1", turnId: "r0", input: { text: "start" } });
    let segment = streams(r2).watch({ sessionId: "race-1" });
    const first = await segment.waitForKind("opened");
    const from = first.kind.case === "opened" ? first.kind.value.lastSeq : -1n;
    const kept: SessionEvent[] = [];
    let resumes = 0;
    /**
     * until waits for an event on the watch; when the watch ends saying
     * where to resume, it keeps what the watch showed up to there and
     * watches again from there.
     */
    const until = async (match: (e: SessionEvent) => boolean) => {
      for (;;) {
        await segment.waitFor(match).catch(() => undefined);
        const end = await Promise.race([segment.ended, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
        const said = /watch again with after_seq (\d+)/.exec(end?.message ?? "");
        if (end !== undefined) expect(said, end.message).not.toBeNull();
        if (said === null) return;
        const at = BigInt(said[1] as string);
        kept.push(...segment.history().filter((e) => e.seq <= at));
        segment = streams(r2).watch({ sessionId: "race-1", afterSeq: at });
        await segment.waitForKind("opened");
        resumes++;
      }
    };
    const completed = (turnId: string) => (e: SessionEvent) => e.seq > 0n && e.kind.case === "completed" && e.turnId === turnId;
    for (let round = 1; round <= 8; round++) {
      // Two clients sending turns of one session to both replicas at once:
      // one commits first, the other loses the race, and its run (whose
      // events the watch may have shown) runs again after it. The replies
      // differ in length, so the runs' events are at different seqs.
      const turns = [`a${round}`, `b${round}`];
      await Promise.all([
        api(r1).sendTurn({ sessionId: "race-1", turnId: `a${round}`, input: { text: "short" } }),
        api(r2).sendTurn({ sessionId: "race-1", turnId: `b${round}`, input: { text: `a much longer message than the other, round ${round}` } }),
      ]);
      for (const turnId of turns) await until(completed(turnId));
    }
    await api(r1).sendTurn({ sessionId: "race-1", turnId: "last", input: { text: "the last one" } });
    await until(completed("last"));
    kept.push(...segment.history());
    segment.cancel();
    const replay = streams(r1).watch({ sessionId: "race-1", afterSeq: from });
    await replay.waitForKind("opened");
    replay.cancel();
    expect(kept.every((e, i) => i === 0 || e.seq > (kept[i - 1] as SessionEvent).seq)).toBe(true);
    expect(historyFacts(kept)).toEqual(historyFacts(replay.history()));
    // How often the watch had to be resumed depends on which run got ahead.
    expect(resumes).toBeLessThanOrEqual(16);
  });

  it("shows a token of another tenant nothing, on either replica, relayed or not", { timeout: 30_000 }, async () => {
    for (const afterSeq of [undefined, 0n]) {
      const other = streams(r2, globex).watch({ sessionId: "w-1", ...(afterSeq !== undefined ? { afterSeq } : {}) });
      const end = await other.ended;
      expect(end.code).toBe(Code.NotFound);
      expect(other.events).toEqual([]);
    }
    // A relay is checked with the caller's own credentials where it lands.
    const relayed = createClient(OrchestratorService, transport(r1, globex, { "switchboard-watch-relay": "test" }));
    const err = await (async () => {
      const received: unknown[] = [];
      for await (const res of relayed.watchSession({ sessionId: "w-1", afterSeq: 0n })) received.push(res);
      return received;
    })().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });

  it("shows another tenant nothing of a new session whose first turn is still running", { timeout: 30_000 }, async () => {
    const first = api(r1).sendTurn({ sessionId: "w-first", turnId: "f1", input: { text: "gate:gf" } });
    // The turn runs (its agent holds at the gate) and nothing is stored yet:
    // acme's watch from the start replays what it has said so far.
    const own = streams(r1).watch({ sessionId: "w-first", afterSeq: 0n });
    await own.waitFor((e) => e.kind.case === "output" && e.turnId === "f1");
    for (const afterSeq of [undefined, 0n]) {
      const other = streams(r1, globex).watch({ sessionId: "w-first", ...(afterSeq !== undefined ? { afterSeq } : {}) });
      expect((await other.ended).code).toBe(Code.NotFound);
      expect(other.events).toEqual([]);
    }
    const taking = streams(r1, globex).converse();
    taking.send({ kind: { case: "open", value: { sessionId: "w-first" } } });
    expect((await taking.ended).code).toBe(Code.NotFound);
    expect(taking.events).toEqual([]);
    // Replica 2 holds nothing of the session: it relays the watch to replica
    // 1 with globex's credentials, which refuses them. (Had replica 1 been
    // slower to answer than the relay's join timeout, the watch would have
    // said `opened`, with no session, first.)
    const relayed = streams(r2, globex).watch({ sessionId: "w-first", afterSeq: 0n });
    expect((await relayed.ended).code).toBe(Code.NotFound);
    expect(relayed.events.filter((e) => e.kind.case !== "opened" || e.kind.value.session !== undefined)).toEqual([]);
    talker.gate("gf").open();
    expect((await first).sessionId).toBe("w-first");
    own.cancel();
  });

  it("shows the turns of a third replica, and goes on when that replica stops between turns", { timeout: 60_000 }, async () => {
    const r3 = await startOrchestratorProcess(args, env);
    try {
      const third = streams(r2).watch({ sessionId: "w-1" });
      await third.waitForKind("opened");
      // Replica 2 lists replica 3 from its next heartbeat; a turn replica 3
      // ran before then is replayed to the watch when it joins.
      await api(r3).sendTurn({ sessionId: "w-1", turnId: "t3b", input: { text: "on replica three" } });
      await third.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3b");
      await watcher.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3b");
      await r3.stop();
      await api(r1).sendTurn({ sessionId: "w-1", turnId: "t3c", input: { text: "after replica three left" } });
      await third.waitFor((e) => e.kind.case === "completed" && e.turnId === "t3c");
      expect(ofTurn(third.history(), "t3b").length).toBeGreaterThan(2);
      third.cancel();
    } finally {
      await r3.stop();
    }
  });

  it("ends the watch with UNAVAILABLE, saying where to resume, when the replica running the turn dies", { timeout: 60_000 }, async () => {
    const dying = streams(r2).watch({ sessionId: "w-1" });
    await dying.waitForKind("opened");
    await converse(r1, "t6", "gate:g6");
    await dying.waitFor(() => textOf(dying, "t6") === "part one. ");
    const start = (ofTurn(dying.history(), "t6")[0] as SessionEvent).seq - 1n;
    r1.child.kill("SIGKILL");
    for (const w of [dying, watcher]) {
      const end = await w.ended;
      expect(end.code).toBe(Code.Unavailable);
      expect(end.message).toMatch(/^replica http:\/\/127\.0\.0\.1:\d+ stopped answering while it ran turn t6 of session w-1/);
      expect(end.message).toContain(`watch again with after_seq ${start} (the seq before the turn's first event)`);
    }
    // Watching again from there, on the replica that stays, shows what the
    // session committed since (nothing of the turn that died with its
    // replica), then its next turn, which runs there.
    const again = streams(r2).watch({ sessionId: "w-1", afterSeq: start });
    await again.waitForKind("opened");
    await api(r2).sendTurn({ sessionId: "w-1", turnId: "t7", input: { text: "after the crash" } });
    await again.waitFor((e) => e.kind.case === "completed" && e.turnId === "t7");
    expect(again.history().map((e) => e.turnId)).not.toContain("t6");
    expect((again.history()[0] as SessionEvent).seq).toBe(start + 1n);
    again.cancel();
  });
});
