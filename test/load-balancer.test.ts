import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../src/gen/grpc/health/v1/health_pb.js";
import type { SessionEvent } from "../src/gen/switchboard/v1/orchestrator_pb.js";
import { freePort } from "./support/ferretdb.js";
import { historyFacts } from "./support/history-facts.js";
import { type Proc, type RunningOrchestrator, repoRoot, startCommand, startOrchestratorProcess } from "./support/process.js";
import { ProxiedConversation } from "./support/proxied-gateway.js";
import { Talker, talkFlowDir } from "./support/talker-agent.js";

const seqOf = (events: SessionEvent[], turnId: string, kind: string) =>
  events.find((e) => e.turnId === turnId && e.kind.case === kind)?.seq ?? -1n;
const completedTurns = (events: SessionEvent[]) => events.filter((e) => e.kind.case === "completed").map((e) => e.turnId);

/**
 * Three replicas on one database behind HAProxy, run with the shipped
 * deploy/haproxy/haproxy.cfg: conversations keep to one replica by their
 * session header; when a replica is killed, or drains on SIGTERM, its
 * conversations go on through the proxy on another replica, resuming with
 * nothing lost or repeated.
 */
describe("replicas behind HAProxy", () => {
  const suffix = randomBytes(3).toString("hex");
  const env = { MONGODB_URI: inject("mongoUri"), SWITCHBOARD_DB: `switchboard_lb_${suffix}` };
  const names = ["r1", "r2", "r3"];
  const talker = new Talker();
  const replicas: RunningOrchestrator[] = [];
  let proxy: Proc;
  let proxyUrl = "";
  const replicaNamed = (name: string) => {
    const r = replicas[names.indexOf(name)];
    if (r === undefined) throw new Error(`no replica is named ${JSON.stringify(name)} by the proxy`);
    return r;
  };

  beforeAll(async () => {
    await talker.start();
    const args = ["--agent", `talker=${talker.agent.url}`, "--flows", talkFlowDir(), "--default-flow", "talk"];
    replicas.push(...(await Promise.all(names.map(() => startOrchestratorProcess(args, env)))));
    const port = await freePort();
    proxy = startCommand(
      inject("haproxy"),
      ["-db", "-f", join(repoRoot, "deploy/haproxy/haproxy.cfg")],
      {
        SWITCHBOARD_PROXY_BIND: `127.0.0.1:${port}`,
        ...Object.fromEntries(replicas.map((r, i) => [`SWITCHBOARD_REPLICA_${i + 1}`, `127.0.0.1:${r.port}`])),
        // Fast checks, so that the test sees a replica leave in a moment.
        SWITCHBOARD_CHECK_INTERVAL: "200ms",
        SWITCHBOARD_CHECK_FALL: "2",
        SWITCHBOARD_CHECK_RISE: "1",
      },
      "haproxy",
    );
    proxyUrl = `http://127.0.0.1:${port}`;
    // The proxy listens and passes health checks through to a replica.
    const health = createClient(Health, createGrpcTransport({ baseUrl: proxyUrl }));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await health.check({}).then((r) => r.status === ServingStatus.SERVING, () => false);
      if (ok) break;
      if (Date.now() > deadline || proxy.child.exitCode !== null) throw new Error(`HAProxy did not come up:\n${proxy.lines.join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await talker.agent?.close();
  });

  /** expectNothingLost checks a conversation's history as replayed now against what its streams received. */
  const expectNothingLost = async (c: ProxiedConversation, turns: string[]) => {
    const { session } = await c.unary.getSession({ sessionId: c.sessionId });
    expect(session?.version).toBe(BigInt(turns.length));
    const replayed = await c.replay();
    expect(completedTurns(replayed)).toEqual(turns);
    const received = c.received();
    // Stitched at their resume points, the streams received every event
    // once, in order: exactly the history the session has.
    expect(received.every((e, i) => i === 0 || e.seq > (received[i - 1] as SessionEvent).seq)).toBe(true);
    expect(historyFacts(received)).toEqual(historyFacts(replayed));
  };

  it("takes HTTP/1.1 on the same port too: the Connect protocol, as browsers and curl speak it", async () => {
    const health = createClient(Health, createConnectTransport({ baseUrl: proxyUrl, httpVersion: "1.1" }));
    expect((await health.check({})).status).toBe(ServingStatus.SERVING);
  });

  it(
    "keeps each conversation on one replica; when it is killed, the conversation goes on through the proxy on another, resumed with nothing lost",
    { timeout: 60_000 },
    async () => {
      const conversations = ["a", "b", "c", "d"].map((k) => new ProxiedConversation(proxyUrl, `lb-${k}-${suffix}`));
      await Promise.all(conversations.map((c) => c.open()));
      for (const turnId of ["t1", "t2"]) {
        const ends = await Promise.all(conversations.map((c) => c.turn(turnId, `hello ${turnId}`)));
        expect(ends.map((e) => e.kind.case)).toEqual(conversations.map(() => "completed"));
      }
      // Affinity: every call of a conversation (its stream, a unary call,
      // a watcher) goes to the same replica.
      for (const c of conversations) {
        await c.unary.getSession({ sessionId: c.sessionId });
        await c.replay();
        expect(c.servedBy.length).toBe(3);
        expect(new Set(c.servedBy).size, c.sessionId).toBe(1);
      }

      // Conversation a is in the middle of a reply when its replica dies.
      const a = conversations[0] as ProxiedConversation;
      const victim = a.servedBy[0] as string;
      a.stream.send({ kind: { case: "turn", value: { turnId: "t3", input: { text: "gate:lb-kill" } } } });
      await a.stream.waitFor((e) => e.turnId === "t3" && e.kind.case === "output");
      replicaNamed(victim).child.kill("SIGKILL");
      await replicaNamed(victim).exited;
      expect((await a.stream.ended).code).not.toBe(0);

      // The gateway reconnects through the proxy and lands on another
      // replica. The reply it was receiving was never committed, so it
      // resumes after the end of t2, and the resume is complete: nothing
      // is missing after it (`opened` says where live begins) and nothing
      // before it comes again.
      const t2End = seqOf(a.streams[0]?.events ?? [], "t2", "completed");
      expect(await a.reconnect()).toBe(t2End);
      expect(a.servedBy.at(-1)).not.toBe(victim);
      const opened = a.stream.events.find((e) => e.kind.case === "opened");
      expect(opened?.kind.case === "opened" && opened.kind.value.lastSeq).toBe(t2End);
      expect(a.stream.history()).toEqual([]);

      // The turn lost with its replica is sent again with its turn id and
      // runs once; the conversation goes on.
      talker.gate("lb-kill").open();
      expect((await a.turn("t3", "gate:lb-kill")).kind.case).toBe("completed");
      expect((await a.turn("t4", "hello t4")).kind.case).toBe("completed");

      // The other conversations: those the killed replica served reconnect
      // the same way; all of them go on.
      for (const c of conversations.slice(1)) {
        if (c.servedBy[0] === victim) {
          expect((await c.stream.ended).code).not.toBe(0);
          expect(await c.reconnect()).toBe(seqOf(c.received(), "t2", "completed"));
        }
        expect(c.broken).toBe(false);
        expect((await c.turn("t3", "hello t3")).kind.case).toBe("completed");
        expect(c.servedBy.at(-1)).not.toBe(victim);
      }
      // Until the health check marks the killed replica down, a call the
      // hash sends there is redispatched to any other replica; from then
      // on the session's calls keep to the hash's next choice again.
      await proxy.waitForLine((l) => l.includes(`/${victim} is DOWN`), 10_000);
      const settled = a.servedBy.length;
      await expectNothingLost(a, ["t1", "t2", "t3", "t4"]);
      expect(a.servedBy.length).toBe(settled + 2);
      expect(new Set(a.servedBy.slice(settled)).size).toBe(1);
      expect(a.servedBy.slice(settled)).not.toContain(victim);
      for (const c of conversations.slice(1)) await expectNothingLost(c, ["t1", "t2", "t3"]);
    },
  );

  it(
    "drains a replica on SIGTERM: the health check sees NOT_SERVING, new calls go elsewhere, and its conversation finishes the turn and resumes on another replica",
    { timeout: 60_000 },
    async () => {
      const c = new ProxiedConversation(proxyUrl, `lb-drain-${suffix}`);
      await c.open();
      await c.turn("t1", "hello");
      const name = c.servedBy[0] as string;
      const draining = replicaNamed(name);
      c.stream.send({ kind: { case: "turn", value: { turnId: "t2", input: { text: "gate:lb-drain" } } } });
      await c.stream.waitFor((e) => e.turnId === "t2" && e.kind.case === "output");

      draining.child.kill("SIGTERM");
      // The replica still listens, answering NOT_SERVING while its turn
      // runs: the proxy's check reads that and takes it out of rotation.
      await proxy.waitForLine((l) => l.includes(`/${name} is DOWN`) && l.includes("content check did not match"), 10_000);
      await c.unary.getSession({ sessionId: c.sessionId });
      expect(c.servedBy.at(-1)).not.toBe(name);

      // The running turn finishes on the draining replica; then its stream
      // ends UNAVAILABLE and the replica exits.
      talker.gate("lb-drain").open();
      const t2 = await c.stream.waitFor((e) => e.turnId === "t2" && ["completed", "failed"].includes(e.kind.case ?? ""));
      expect(t2.kind.case).toBe("completed");
      expect((await c.stream.ended).code).toBe(Code.Unavailable);
      expect(await draining.exited).toBe(0);

      expect(await c.reconnect()).toBe(t2.seq);
      expect(c.servedBy.at(-1)).not.toBe(name);
      expect((await c.turn("t3", "hello again")).kind.case).toBe("completed");
      await expectNothingLost(c, ["t1", "t2", "t3"]);
    },
  );
});
