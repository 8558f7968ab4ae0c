import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrchestratorService, type SessionEvent } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { codePoints } from "../src/core/session-events.js";
import { type ConverseClient, connectClient, type EventStream, grpcJsClient } from "./support/converse-clients.js";
import { type RunningOrchestrator, startOrchestratorProcess } from "./support/process.js";
import { Talker, talkFlowDir } from "./support/talker-agent.js";

const text = (e: SessionEvent) => (e.kind.case === "output" ? e.kind.value.text : "");

/**
 * Resuming from events the orchestrator no longer holds in memory: with a
 * 1 KiB replay window, a session's older events exist only as its audit
 * trail, and a resume must rebuild them from it — at any sequence number,
 * inside a reply too — without missing or repeating anything.
 */
describe("Converse resume from the audit trail", () => {
  const talker = new Talker();
  let orchestrator: RunningOrchestrator;
  let clients: ConverseClient[];
  /** The live events of the reference session, as its owning stream saw them. */
  let live: SessionEvent[];
  const id = `rebuilt-${Date.now().toString(36)}`;

  beforeAll(async () => {
    await talker.start();
    orchestrator = await startOrchestratorProcess([
      "--agent",
      `talker=${talker.agent.url}`,
      "--flows",
      talkFlowDir(),
      "--default-flow",
      "talk",
      "--replay-window",
      "1",
      "--keepalive",
      "0.2",
    ]);
    clients = [connectClient(orchestrator.url), grpcJsClient(`127.0.0.1:${orchestrator.port}`)];

    // A session with every kind of turn: long replies, a failed turn, an
    // interrupted one, and a barge-in after a reply was complete.
    const stream = (clients[0] as ConverseClient).converse();
    stream.send({ kind: { case: "open", value: { sessionId: id } } });
    const run = async (turnId: string, input: string) => {
      stream.send({ kind: { case: "turn", value: { turnId, input: { text: input } } } });
      return stream.waitFor((e) => e.turnId === turnId && ["completed", "failed", "interrupted"].includes(e.kind.case ?? ""));
    };
    await run("t1", "long:3000");
    await run("t2", "fail");
    stream.send({ kind: { case: "turn", value: { turnId: "t3", input: { text: "story:never" } } } });
    await stream.waitFor((e) => e.turnId === "t3" && e.kind.case === "output");
    stream.send({ kind: { case: "bargeIn", value: { turnId: "t3", heardChars: 12 } } });
    await stream.waitFor((e) => e.turnId === "t3" && e.kind.case === "interrupted");
    await run("t4", "long:2000");
    stream.send({ kind: { case: "bargeIn", value: { turnId: "t4", heardChars: 100 } } });
    await stream.waitFor((e) => e.turnId === "t4" && e.kind.case === "interrupted");
    await run("t5", "ok then");
    stream.end();
    await stream.ended;
    live = stream.history();
  });

  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await orchestrator?.stop();
    await talker.agent?.close();
  });

  /**
   * seenText is the reply text a client that saw everything up to `k` has:
   * whole chunks up to it, and the start of a chunk `k` points inside (a
   * chunk's seq is the previous one plus its length).
   */
  const seenText = (turnId: string, k: bigint) => {
    let out = "";
    for (const e of live.filter((e) => e.turnId === turnId && e.kind.case === "output")) {
      const start = e.seq - BigInt(codePoints(text(e)) || 1);
      if (e.seq <= k) out += text(e);
      else if (start < k) out += [...text(e)].slice(0, Number(k - start)).join("");
    }
    return out;
  };

  /**
   * check asserts what a client that saw the live events up to `k` must
   * receive after resuming there, as the audit trail tells it: events of
   * failed turns other than their `failed` are not stored; a reply comes
   * back as the rest of its stored text (for an interrupted reply, the
   * part heard).
   */
  const check = (k: bigint, resumed: SessionEvent[]) => {
    expect(resumed.every((e) => e.seq > k)).toBe(true);
    expect(resumed.every((e, i) => i === 0 || e.seq > (resumed[i - 1] as SessionEvent).seq)).toBe(true);
    const failedTurns = new Set(live.filter((e) => e.kind.case === "failed").map((e) => e.turnId));
    const expectedControl = live
      .filter((e) => e.seq > k && e.kind.case !== "output")
      .filter((e) => !failedTurns.has(e.turnId) || e.kind.case === "failed")
      .map((e) => `${e.seq}:${e.turnId}:${e.kind.case}`);
    expect(resumed.filter((e) => e.kind.case !== "output").map((e) => `${e.seq}:${e.turnId}:${e.kind.case}`)).toEqual(expectedControl);
    for (const turnId of ["t1", "t3", "t4", "t5"]) {
      const seen = seenText(turnId, k);
      const got = resumed.filter((e) => e.turnId === turnId).map(text).join("");
      const all = live.filter((e) => e.turnId === turnId).map(text).join("");
      const heard = live.find((e) => e.turnId === turnId && e.kind.case === "interrupted" && !e.kind.value.afterCompletion);
      const stored = heard?.kind.case === "interrupted" ? heard.kind.value.heard : all;
      const want = codePoints(seen) >= codePoints(stored) ? "" : stored.slice(seen.length);
      expect(got, `turn ${turnId} resumed after ${k}`).toBe(want);
    }
  };

  it("rebuilt the early events from the store (the window no longer holds them)", async () => {
    const watcher = (clients[0] as ConverseClient).watch({ sessionId: id, afterSeq: 0n });
    await watcher.waitForKind("opened");
    const t1 = watcher.history().filter((e) => e.turnId === "t1" && e.kind.case === "output");
    // Live, t1's reply came in many chunks; rebuilt, it is one.
    expect(live.filter((e) => e.turnId === "t1" && e.kind.case === "output").length).toBeGreaterThan(40);
    expect(t1.length).toBe(1);
    check(0n, watcher.history());
    watcher.cancel();
  });

  it("resumes at every sequence number a client can have seen, and inside chunks", async () => {
    const points = new Set<bigint>([0n]);
    for (const e of live) {
      points.add(e.seq);
      if (e.kind.case === "output" && e.seq > 5n) points.add(e.seq - 5n); // inside a chunk
    }
    const c = clients[0] as ConverseClient;
    for (const k of [...points].sort((a, b) => (a < b ? -1 : 1))) {
      const watcher = c.watch({ sessionId: id, afterSeq: k });
      await watcher.waitForKind("opened");
      check(k, watcher.history());
      watcher.cancel();
    }
  });

  it.each([0, 1])("resumes a Converse stream mid-reply with client %i", async (which) => {
    const c = clients[which] as ConverseClient;
    const k = (live.filter((e) => e.turnId === "t1" && e.kind.case === "output")[10] as SessionEvent).seq;
    const stream: EventStream = c.converse();
    stream.send({ kind: { case: "open", value: { sessionId: id, resumeAfterSeq: k } } });
    const opened = await stream.waitForKind("opened");
    // (Turns the other case of this test added come after the reference.)
    const liveLast = (live[live.length - 1] as SessionEvent).seq;
    check(k, stream.history().filter((e) => e.seq <= liveLast));
    expect(opened.kind.case === "opened" && opened.kind.value.lastSeq).toBeGreaterThanOrEqual(liveLast);
    // And the conversation goes on, numbered after the rebuilt history.
    stream.send({ kind: { case: "turn", value: { turnId: `more-${which}`, enqueue: true, input: { text: "one more" } } } });
    const done = await stream.waitForKind("completed", stream.events.length);
    expect(done.seq).toBeGreaterThan(opened.kind.case === "opened" ? opened.kind.value.lastSeq : 0n);
    stream.end();
    expect((await stream.ended).code).toBe(0);
  });

  it("replays the audit trail's failed turn as its failed event", async () => {
    const unary = createClient(OrchestratorService, createGrpcTransport({ baseUrl: orchestrator.url }));
    const { steps } = await unary.listSteps({ sessionId: id });
    const failed = steps.find((s) => s.turnId === "t2");
    const event = live.find((e) => e.turnId === "t2" && e.kind.case === "failed");
    expect(failed?.details["seq_end"]).toBe(event?.seq.toString());
    const watcher = (clients[1] as ConverseClient).watch({ sessionId: id, afterSeq: 0n });
    const got = await watcher.waitFor((e) => e.turnId === "t2");
    expect(got.kind.case === "failed" && got.kind.value.message).toBe("agent talker failed the turn: asked to fail");
    watcher.cancel();
  });

  it("sends HTTP/2 keepalive pings on idle connections", async () => {
    const session = http2.connect(orchestrator.url);
    try {
      const ping = await new Promise<Buffer>((resolve, reject) => {
        session.once("ping", resolve);
        session.once("error", reject);
      });
      expect(ping.length).toBe(8);
    } finally {
      session.close();
    }
  });

  it("refuses a resume beyond the session's last event", async () => {
    const stream = (clients[1] as ConverseClient).converse();
    const last = (live[live.length - 1] as SessionEvent).seq;
    stream.send({ kind: { case: "open", value: { sessionId: id, resumeAfterSeq: last + 1_000_000n } } });
    expect((await stream.ended).code).toBe(Code.OutOfRange);
  });
});

/**
 * A resume that spans the audit trail and the window: older turns come
 * from the store, recent ones from memory, and a running turn whose first
 * events the window let go of is rebuilt from what the server keeps of it.
 */
describe("Converse resume across the store and the window", () => {
  const talker = new Talker();
  let orchestrator: RunningOrchestrator;
  let client: ConverseClient;

  beforeAll(async () => {
    await talker.start();
    orchestrator = await startOrchestratorProcess([
      "--agent",
      `talker=${talker.agent.url}`,
      "--flows",
      talkFlowDir(),
      "--default-flow",
      "talk",
      "--replay-window",
      "8",
    ]);
    client = grpcJsClient(`127.0.0.1:${orchestrator.port}`);
  });

  afterAll(async () => {
    client?.close();
    await orchestrator?.stop();
    await talker.agent?.close();
  });

  it("misses nothing and repeats nothing at any point", async () => {
    const id = `spanning-${Date.now().toString(36)}`;
    const stream = client.converse();
    stream.send({ kind: { case: "open", value: { sessionId: id } } });
    for (let i = 1; i <= 12; i++) {
      stream.send({ kind: { case: "turn", value: { turnId: `t${i}`, input: { text: `turn number ${i}` } } } });
      await stream.waitFor((e) => e.turnId === `t${i}` && e.kind.case === "completed");
    }
    stream.send({ kind: { case: "turn", value: { turnId: "long", input: { text: "longgate:20000:span" } } } });
    // The reply is streamed, and the agent waits at its gate: the turn runs.
    await stream.waitFor(() => stream.events.filter((e) => e.turnId === "long").map(text).join("").length === 20_000);
    const live = stream.history();
    const liveText = (turnId: string) => live.filter((e) => e.turnId === turnId).map(text).join("");
    const points = [0n, ...live.filter((_, i) => i % 7 === 0).map((e) => e.seq)];
    for (const k of points) {
      const watcher = client.watch({ sessionId: id, afterSeq: k });
      await watcher.waitForKind("opened");
      const got = watcher.history().filter((e) => e.seq <= (live[live.length - 1] as SessionEvent).seq);
      expect(got.every((e, i) => e.seq > k && (i === 0 || e.seq > (got[i - 1] as SessionEvent).seq))).toBe(true);
      expect(got.filter((e) => e.kind.case !== "output").map((e) => `${e.seq}:${e.kind.case}`)).toEqual(
        live.filter((e) => e.seq > k && e.kind.case !== "output").map((e) => `${e.seq}:${e.kind.case}`),
      );
      for (const turnId of new Set(live.map((e) => e.turnId))) {
        const seen = live.filter((e) => e.turnId === turnId && e.seq <= k).map(text).join("");
        expect(seen + got.filter((e) => e.turnId === turnId).map(text).join(""), `${turnId} after ${k}`).toBe(liveText(turnId));
      }
      watcher.cancel();
    }
    talker.gate("span").open();
    await stream.waitFor((e) => e.turnId === "long" && e.kind.case === "completed");
    stream.end();
    expect((await stream.ended).code).toBe(0);
  });
});
