import { Code, type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrchestratorService, type SessionEvent } from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import { type ConverseClient, connectClient, type EventStream } from "./converse-clients.js";

/**
 * sessionHeader is the request header a load balancer keeps a session's
 * calls on one replica by (deploy/haproxy/haproxy.cfg hashes it).
 */
export const sessionHeader = "x-session-id";

/** turnEnds are the kinds of event that end a turn. */
const turnEnds = new Set(["completed", "failed", "interrupted"]);

/**
 * ProxiedConversation is one conversation a gateway runs through a load
 * balancer: every call carries the session header, the replica that
 * answered each call is kept (the proxy's `x-served-by` response header),
 * and a stream that breaks is resumed the way a gateway should.
 */
export class ProxiedConversation {
  /** The proxy's name of the replica that answered each call, in order. */
  readonly servedBy: string[] = [];
  /** Every Converse stream opened, oldest first. */
  readonly streams: EventStream[] = [];
  /** The seq each stream resumed after (undefined: it started live). */
  readonly resumedAfter: (bigint | undefined)[] = [];
  /** Unary calls through the proxy, with the session header. */
  readonly unary: Client<typeof OrchestratorService>;
  private readonly converse: ConverseClient;
  private readonly ended = new WeakSet<EventStream>();

  constructor(
    proxyUrl: string,
    readonly sessionId: string,
  ) {
    const stamp: Interceptor = (next) => async (req) => {
      req.header.set(sessionHeader, sessionId);
      const res = await next(req);
      this.servedBy.push(res.header.get("x-served-by") ?? "");
      return res;
    };
    const transport = createGrpcTransport({ baseUrl: proxyUrl, interceptors: [stamp] });
    this.converse = connectClient(proxyUrl, transport, `${sessionId} via the proxy`);
    this.unary = createClient(OrchestratorService, transport);
  }

  /** stream is the newest Converse stream. */
  get stream(): EventStream {
    const s = this.streams[this.streams.length - 1];
    if (s === undefined) throw new Error(`${this.sessionId}: no stream opened yet`);
    return s;
  }

  /** broken tells whether the newest stream has ended. */
  get broken(): boolean {
    return this.ended.has(this.stream);
  }

  /** open opens a Converse stream (resuming after `after` when given) and waits for `opened`. */
  async open(after?: bigint): Promise<EventStream> {
    const s = this.converse.converse();
    this.streams.push(s);
    this.resumedAfter.push(after);
    void s.ended.then(() => this.ended.add(s));
    s.send({ kind: { case: "open", value: { sessionId: this.sessionId, ...(after !== undefined ? { resumeAfterSeq: after } : {}) } } });
    await s.waitForKind("opened");
    return s;
  }

  /**
   * reconnect opens a new stream after the last one broke, as a gateway
   * does: through the proxy (which picks a live replica), resuming after
   * the last seq it received. When that seq belongs to a turn the lost
   * replica never committed, the session has no such event (OUT_OF_RANGE)
   * and it resumes after the end of the last turn that ended instead. A
   * refused attempt (no replica reachable yet) is tried again for a few
   * seconds. It returns the seq it resumed after.
   */
  async reconnect(): Promise<bigint> {
    let after = lastSeq(this.received(), () => true);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.open(after);
        return after;
      } catch (e) {
        // A refused stream is no part of the conversation.
        const refused = this.stream;
        this.streams.pop();
        this.resumedAfter.pop();
        const end = await refused.ended;
        if (end.code === Code.OutOfRange) after = lastSeq(this.received(), (ev) => turnEnds.has(ev.kind.case ?? ""));
        else if (Date.now() > deadline) throw e;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** turn sends a turn on the newest stream and waits for the event that ends it. */
  async turn(turnId: string, text: string): Promise<SessionEvent> {
    const from = this.stream.events.length;
    this.stream.send({ kind: { case: "turn", value: { turnId, input: { text } } } });
    return this.stream.waitFor((e) => e.turnId === turnId && turnEnds.has(e.kind.case ?? ""), from);
  }

  /**
   * received is the session's history as the gateway received it: each
   * stream's events up to the point the next one resumed after, so events
   * of a turn a lost replica never committed are left out.
   */
  received(): SessionEvent[] {
    return this.streams.flatMap((s, i) => {
      const until = i + 1 < this.streams.length ? this.resumedAfter[i + 1] : undefined;
      return s.history().filter((e) => until === undefined || e.seq <= until);
    });
  }

  /** replay reads the session's whole history through the proxy: WatchSession from seq 0, up to `opened`. */
  async replay(): Promise<SessionEvent[]> {
    const watcher = this.converse.watch({ sessionId: this.sessionId, afterSeq: 0n });
    await watcher.waitForKind("opened");
    watcher.cancel();
    return watcher.history();
  }
}

/** lastSeq is the seq of the last of `events` that matches, 0 for none. */
function lastSeq(events: SessionEvent[], match: (e: SessionEvent) => boolean): bigint {
  let seq = 0n;
  for (const e of events) if (match(e) && e.seq > seq) seq = e.seq;
  return seq;
}
