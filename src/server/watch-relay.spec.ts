import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { SessionEvent, WatchSessionResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import { AsyncQueue } from "../core/async-queue.js";
import { event, type EventKind } from "../core/session-events.js";
import { createLogger } from "../log.js";
import { EventQueue } from "./event-queue.js";
import type { ReplicaPeers } from "./replica-peers.js";
import type { SessionHub } from "./session-hub.js";
import { RelayedWatch, relayHeader } from "./watch-relay.js";

const ev = (seq: bigint, turnId: string, kind: EventKind): SessionEvent => event({ sessionId: "s", turnId }, seq, kind);
const accepted = (seq: bigint, turnId: string) => ev(seq, turnId, { case: "accepted", value: { stage: "a", agent: "x" } });
const output = (seq: bigint, turnId: string, text: string) => ev(seq, turnId, { case: "output", value: { text, agent: "x" } });
const opened = (lastSeq: bigint) => ev(0n, "", { case: "opened", value: { lastSeq, replayed: 0n } });
const completed = (seq: bigint, turnId: string) => ev(seq, turnId, { case: "completed", value: {} });

/** A peer's WatchSession as a queue the spec feeds, with the request it got. */
class FakePeer {
  readonly stream = new AsyncQueue<WatchSessionResponse>();
  request: { afterSeq?: bigint | undefined; headers?: Headers } | undefined;
  send(e: SessionEvent): void {
    this.stream.push({ event: e } as WatchSessionResponse);
  }
}

/** setup runs a RelayedWatch over a fake hub (the local source) and fake peers. */
function setup(peerIds: string[], after: bigint | undefined) {
  const local = { queue: undefined as EventQueue | undefined, after: undefined as bigint | undefined };
  const hub = {
    watch: async (_id: string, queue: EventQueue, a: bigint | undefined) => {
      local.queue = queue;
      local.after = a;
    },
    holds: () => false,
    release: () => undefined,
  } as unknown as SessionHub;
  const peers = new Map(peerIds.map((id) => [id, new FakePeer()]));
  const replicaPeers = {
    id: "me",
    list: () => [...peers.keys()].map((id) => ({ id, url: `http://${id}`, expiresAt: Infinity })),
    client: (id: string) => ({
      watchSession: (req: { afterSeq?: bigint }, opts: { headers: Headers }) => {
        const peer = peers.get(id) as FakePeer;
        peer.request = { afterSeq: req.afterSeq, headers: opts.headers };
        return peer.stream;
      },
    }),
    onBeat: () => () => undefined,
  } as unknown as ReplicaPeers;
  const out = new EventQueue(1 << 20);
  const controller = new AbortController();
  const watch = new RelayedWatch(
    { hub, peers: replicaPeers, streamBufferBytes: 1 << 20, joinTimeoutMs: 60_000, log: createLogger({ level: "error" }) },
    "s",
    after,
    new Headers({ authorization: "Bearer t" }),
    out,
    controller.signal,
  );
  watch.start();
  const received: SessionEvent[] = [];
  let error: unknown;
  const reading = (async () => {
    try {
      for await (const e of out) received.push(e);
    } catch (e) {
      error = e;
    }
  })();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  return { local, peers, received, tick, ended: async () => (await reading, error), watch };
}

describe("RelayedWatch", () => {
  it("replays here first, joins the peers from there with the caller's token and the relay mark, and opens at the furthest seq", async () => {
    const w = setup(["p1"], 10n);
    await w.tick();
    w.local.queue?.push(completed(12n, "t1"));
    w.local.queue?.push(opened(12n));
    await w.tick();
    const p1 = w.peers.get("p1") as FakePeer;
    expect(p1.request?.afterSeq).toBe(12n);
    expect(p1.request?.headers?.get("authorization")).toBe("Bearer t");
    expect(p1.request?.headers?.get(relayHeader)).toBe("me");
    // The peer runs the next turn: what it replays comes before `opened`.
    p1.send(accepted(13n, "t2"));
    p1.send(output(17n, "t2", "four"));
    p1.send(opened(17n));
    await w.tick();
    expect(w.received.map((e) => `${e.seq}:${e.kind.case}`)).toEqual(["12:completed", "13:accepted", "17:output", "0:opened"]);
    const last = w.received.at(-1);
    expect(last?.kind.case === "opened" && last.kind.value.lastSeq).toBe(17n);
    expect(last?.kind.case === "opened" && last.kind.value.replayed).toBe(3n);
    w.watch.close();
  });

  it("sends each seq once and in increasing order, whichever source sends it first", async () => {
    const w = setup(["p1", "p2"], undefined);
    await w.tick();
    w.local.queue?.push(opened(5n));
    await w.tick();
    for (const id of ["p1", "p2"]) (w.peers.get(id) as FakePeer).send(opened(5n));
    await w.tick();
    const [p1, p2] = [w.peers.get("p1") as FakePeer, w.peers.get("p2") as FakePeer];
    p1.send(accepted(6n, "t"));
    p2.send(accepted(6n, "t"));
    p1.send(output(9n, "t", "abc"));
    p2.send(output(9n, "t", "abc"));
    p2.send(completed(10n, "t"));
    p1.send(completed(10n, "t"));
    await w.tick();
    expect(w.received.map((e) => `${e.seq}:${e.kind.case}`)).toEqual(["0:opened", "6:accepted", "9:output", "10:completed"]);
    w.watch.close();
  });

  it("refuses a resume beyond every source's last event with OUT_OF_RANGE", async () => {
    const w = setup(["p1"], 50n);
    await w.tick();
    w.local.queue?.push(opened(12n));
    await w.tick();
    (w.peers.get("p1") as FakePeer).send(opened(20n));
    const err = await w.ended();
    expect(ConnectError.from(err).code).toBe(Code.OutOfRange);
    expect(ConnectError.from(err).rawMessage).toContain("has no event after 20");
  });

  it("drops a peer that goes away between turns, and ends with UNAVAILABLE and the turn's start when it goes away in the middle of one", async () => {
    const w = setup(["p1", "p2"], undefined);
    await w.tick();
    w.local.queue?.push(opened(5n));
    await w.tick();
    for (const id of ["p1", "p2"]) (w.peers.get(id) as FakePeer).send(opened(5n));
    await w.tick();
    (w.peers.get("p2") as FakePeer).stream.fail(new ConnectError("gone", Code.Unavailable));
    const p1 = w.peers.get("p1") as FakePeer;
    p1.send(accepted(6n, "t"));
    p1.send(output(8n, "t", "ab"));
    await w.tick();
    expect(w.received.map((e) => e.seq)).toEqual([0n, 6n, 8n]);
    p1.stream.fail(new ConnectError("connection reset", Code.Unavailable));
    const err = ConnectError.from(await w.ended());
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/^replica http:\/\/p1 stopped answering while it ran turn t of session s \(connection reset\).*after_seq 5 /);
  });
});
