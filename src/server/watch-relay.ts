import { Code, ConnectError } from "@connectrpc/connect";
import type { SessionEvent } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Session } from "../gen/switchboard/v1/session_pb.js";
import { notFound } from "../core/errors.js";
import { event, outputWeight } from "../core/session-events.js";
import type { Logger } from "../log.js";
import { EventQueue, eventSize } from "./event-queue.js";
import type { ReplicaEntry } from "./replica-directory.js";
import type { ReplicaPeers } from "./replica-peers.js";
import { beyondLastEvent, type SessionHub, untilSpace } from "./session-hub.js";

/**
 * relayHeader marks a WatchSession call one replica makes to another on
 * behalf of its own watcher: the replica answering it streams only what
 * happens on itself, so relays never relay (no loops, one hop).
 */
export const relayHeader = "switchboard-watch-relay";

/**
 * forwardedHeaders are the caller's headers a relay carries, so that the
 * peer checks the caller's credentials and tenant as its own.
 */
const forwardedHeaders = ["authorization"] as const;

/**
 * RelayDeps are what a watch spanning replicas needs.
 */
export interface RelayDeps {
  hub: SessionHub;
  peers: ReplicaPeers;
  /** Bytes a stream may hold unread (see HubLimits.streamBufferBytes). */
  streamBufferBytes: number;
  /** How long the watch waits for a peer to answer before it goes live without it, ms. */
  joinTimeoutMs: number;
  log: Logger;
}

/**
 * Source is one place a watch's events come from: this replica's hub, or a
 * peer's WatchSession.
 */
interface Source {
  /** The peer's id; undefined for this replica. */
  readonly peerId: string | undefined;
  /** The peer's URL, for messages. */
  readonly url: string;
  readonly controller: AbortController;
  /** The source's `opened` came: its replay is done. */
  opened: boolean;
  /** Where the source said the session stands when it opened. */
  lastSeq: bigint;
  /** The turn the source is in the middle of, as its own events tell. */
  turn: string | undefined;
  /** The seq just before that turn's first event: where its history stood. */
  turnStart: bigint;
  /** Some event of that turn went to the caller. */
  forwarded: boolean;
}

/** Held is an event held back while the watch joins the peers, with its source. */
interface Held {
  source: Source;
  ev: SessionEvent;
}

/**
 * Phase is where a watch spanning replicas stands:
 *
 * - replay: this replica replays the events after `after` (from its window
 *   and the audit trail), straight to the caller;
 * - joining: the peers answer (each replays what it holds beyond this
 *   replica's replay); every event is held back until all have answered
 *   or the join times out, then sent in seq order, then `opened`;
 * - live: events from any source go to the caller as they come, each seq
 *   once, in increasing order;
 * - done: the watch ended.
 */
type Phase = "replay" | "joining" | "live" | "done";

/**
 * RelayedWatch is one WatchSession whose session may run its turns on any
 * replica. It watches the session on this replica (`SessionHub.watch`,
 * partial) and on every other replica the directory lists (their
 * WatchSession with `relayHeader`), and merges what they send into the
 * caller's queue: events carry the session's seq, which every replica
 * numbers alike from the stored history, so each event is sent once (the
 * first source to send a seq wins; a lower or equal seq was sent already)
 * and none is missed (a source joining late replays from the last seq
 * sent). A peer that goes away between turns is dropped and joined again
 * once the directory lists it; one that goes away in the middle of a turn
 * ends the watch with UNAVAILABLE, saying where to resume.
 */
export class RelayedWatch {
  private phase: Phase = "replay";
  /** The last seq sent to the caller. */
  private cursor: bigint;
  private sent = 0n;
  private session: Session | undefined;
  private readonly local: Source;
  private readonly localQueue: EventQueue;
  private readonly remotes = new Map<string, Source>();
  private held: Held[] = [];
  private heldBytes = 0;
  private joinTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: RelayDeps,
    private readonly sessionId: string,
    private readonly after: bigint | undefined,
    private readonly headers: Headers,
    private readonly out: EventQueue,
    private readonly signal: AbortSignal,
  ) {
    this.cursor = after ?? 0n;
    this.local = { peerId: undefined, url: "", controller: new AbortController(), opened: false, lastSeq: 0n, turn: undefined, turnStart: 0n, forwarded: false };
    this.localQueue = new EventQueue(deps.streamBufferBytes);
  }

  /** ended tells whether the watch ended (a getter, so that it is read anew after an await). */
  private get ended(): boolean {
    return this.phase === "done";
  }

  /** start begins the watch; the caller reads `out`. */
  start(): void {
    if (this.signal.aborted) return this.finish();
    this.signal.addEventListener("abort", () => this.finish(), { once: true });
    void this.deps.hub
      .watch(this.sessionId, this.localQueue, this.after, this.local.controller.signal, true)
      .catch((e: unknown) => this.localQueue.fail(ConnectError.from(e)));
    void this.pumpLocal();
  }

  /** close ends the watch: the caller is gone. */
  close(): void {
    this.finish();
  }

  private async pumpLocal(): Promise<void> {
    try {
      for await (const ev of this.localQueue) {
        await this.receive(this.local, ev);
        if (this.phase === "done") return;
      }
      this.finish();
    } catch (e) {
      // This replica's own stream ended: it drains, or the caller fell behind.
      this.finish(ConnectError.from(e));
    }
  }

  private async pumpRemote(source: Source, client: NonNullable<ReturnType<ReplicaPeers["client"]>>, after: bigint | undefined): Promise<void> {
    let error: ConnectError | undefined;
    try {
      const stream = client.watchSession(
        { sessionId: this.sessionId, ...(after !== undefined ? { afterSeq: after } : {}) },
        { signal: source.controller.signal, headers: this.relayHeaders() },
      );
      for await (const res of stream) {
        if (res.event !== undefined) await this.receive(source, res.event);
        if (this.phase === "done") return;
      }
    } catch (e) {
      error = ConnectError.from(e);
    }
    this.remoteEnded(source, error);
  }

  private relayHeaders(): Headers {
    const headers = new Headers({ [relayHeader]: this.deps.peers.id });
    for (const name of forwardedHeaders) {
      const value = this.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    return headers;
  }

  private async receive(source: Source, ev: SessionEvent): Promise<void> {
    if (ev.kind.case === "opened") return this.sourceOpened(source, ev.kind.value.lastSeq, ev.kind.value.session);
    switch (this.phase) {
      case "replay":
      case "live":
        return this.deliver(source, ev);
      case "joining":
        this.hold(source, ev);
        return;
      case "done":
        return;
    }
  }

  /**
   * deliver follows the source's turn and sends the event on. A run whose
   * events went to the caller and then were withdrawn (it lost a race to
   * another replica's commit, or failed with nothing stored) ends the
   * watch: the session's next events are numbered from the stored
   * history, at seqs the caller may have seen already for the withdrawn
   * run, so only a resume from before the run keeps the stream exact.
   */
  private async deliver(source: Source, ev: SessionEvent): Promise<void> {
    if (ev.seq === 0n && ev.kind.case === "failed" && ev.turnId === source.turn && source.forwarded) {
      this.out.push(ev);
      return this.finish(
        new ConnectError(
          `the run of turn ${ev.turnId} of session ${this.sessionId} that this watch showed is not part of the session's history (${ev.kind.value.message}); ` +
            `watch again with after_seq ${source.turnStart} (the seq before the run's first event) to get what the session committed since`,
          Code.Unavailable,
        ),
      );
    }
    track(source, ev);
    if (await this.send(ev)) source.forwarded ||= source.turn !== undefined;
  }

  private sourceOpened(source: Source, lastSeq: bigint, session: Session | undefined): void {
    if (source.opened) return;
    source.opened = true;
    source.lastSeq = lastSeq;
    if (source === this.local) {
      this.session = session;
      // A live-only watch starts from where this replica's history stands.
      if (this.after === undefined && lastSeq > this.cursor) this.cursor = lastSeq;
      this.phase = "joining";
      this.joinPeers();
      this.unsubscribe = this.deps.peers.onBeat(() => this.joinPeers());
      this.joinTimer = setTimeout(() => this.goLive(), this.deps.joinTimeoutMs);
      this.joinTimer.unref();
    }
    void this.goLiveWhenJoined();
  }

  /** joinPeers starts relaying from every listed peer not relayed from yet. */
  private joinPeers(): void {
    if (this.phase !== "joining" && this.phase !== "live") return;
    for (const peer of this.deps.peers.list()) if (!this.remotes.has(peer.id)) this.join(peer);
  }

  private join(peer: ReplicaEntry): void {
    const client = this.deps.peers.client(peer.id);
    if (client === undefined) return;
    const source: Source = { peerId: peer.id, url: peer.url, controller: new AbortController(), opened: false, lastSeq: 0n, turn: undefined, turnStart: 0n, forwarded: false };
    this.remotes.set(peer.id, source);
    // A peer replays what it holds beyond what this watch sent (or, for a
    // live-only watch still joining, sends only what comes from now on).
    const after = this.after === undefined && this.phase === "joining" ? undefined : this.cursor;
    void this.pumpRemote(source, client, after);
  }

  private remoteEnded(source: Source, error: ConnectError | undefined): void {
    this.remotes.delete(source.peerId ?? "");
    if (this.phase === "done" || source.controller.signal.aborted) return;
    if (error !== undefined && !peerGone(error.code)) {
      // The peer refused the caller (credentials, tenant) or the caller fell behind.
      return this.finish(error);
    }
    if (source.turn !== undefined) {
      // The turn's events past its start are not history unless it
      // committed before the replica died, and the session's next turn
      // numbers its events from the stored history: a resume from the
      // turn's start replays exactly what was committed.
      return this.finish(
        new ConnectError(
          `replica ${source.url} stopped answering while it ran turn ${source.turn} of session ${this.sessionId}` +
            `${error !== undefined ? ` (${error.rawMessage})` : ""}; the turn may not have completed: ` +
            `watch again with after_seq ${source.turnStart} (the seq before the turn's first event) to get what the session committed since`,
          Code.Unavailable,
        ),
      );
    }
    // Between turns a peer may come and go (a restart, a scale-down): it is
    // joined again once the directory lists it.
    this.deps.log.debug({ sessionId: this.sessionId, peer: source.url, err: error }, "watch relay from a peer ended between turns");
    void this.goLiveWhenJoined();
  }

  private async goLiveWhenJoined(): Promise<void> {
    if (this.phase !== "joining" || !this.local.opened) return;
    for (const r of this.remotes.values()) if (!r.opened) return;
    await this.goLive();
  }

  /**
   * goLive sends what was held back in seq order, then `opened`; peers that
   * have not answered by now join without holding the watch up.
   */
  private async goLive(): Promise<void> {
    if (this.phase !== "joining") return;
    clearTimeout(this.joinTimer);
    // Where the furthest source stands (the cursor may still be the
    // caller's `after`, which is no event's seq).
    let lastSeq = this.local.lastSeq;
    for (const r of this.remotes.values()) if (r.lastSeq > lastSeq) lastSeq = r.lastSeq;
    for (const { ev } of this.held) if (ev.seq > lastSeq) lastSeq = ev.seq;
    if (this.after !== undefined && this.after > lastSeq) return this.finish(beyondLastEvent(this.sessionId, this.after, lastSeq));
    if (this.session === undefined && lastSeq === 0n && !this.deps.hub.holds(this.sessionId)) return this.finish(notFound(`session ${this.sessionId}`));
    // Events that arrive while the held ones go out are held too, and go
    // out in the next round, so that the order is kept.
    while (this.held.length > 0) {
      const batch = this.held.sort(({ ev: a }, { ev: b }) => (a.seq === b.seq ? 0 : a.seq === 0n ? 1 : b.seq === 0n ? -1 : a.seq < b.seq ? -1 : 1));
      this.held = [];
      this.heldBytes = 0;
      for (const { source, ev } of batch) {
        await this.deliver(source, ev);
        if (this.ended) return;
      }
      if (this.ended) return;
    }
    const opened = { lastSeq, replayed: this.sent, ...(this.session !== undefined ? { session: this.session } : {}) };
    this.out.push(event({ sessionId: this.sessionId, turnId: "" }, 0n, { case: "opened", value: opened }));
    this.phase = "live";
  }

  private hold(source: Source, ev: SessionEvent): void {
    this.held.push({ source, ev });
    this.heldBytes += eventSize(ev);
    if (this.heldBytes > this.deps.streamBufferBytes) {
      this.finish(
        new ConnectError(
          `more than ${this.deps.streamBufferBytes} bytes of session ${this.sessionId}'s events came while the watch joined the other replicas; watch again with after_seq set to the last seq you received`,
          Code.ResourceExhausted,
        ),
      );
    }
  }

  /**
   * send passes an event to the caller: each seq once, increasing; answers
   * without a seq as they come. It tells whether it sent a seq.
   */
  private async send(ev: SessionEvent): Promise<boolean> {
    if (ev.seq > 0n) {
      if (ev.seq <= this.cursor) return false;
      this.cursor = ev.seq;
      this.sent++;
    }
    this.out.push(ev);
    if (this.out.full) await untilSpace(this.out, this.signal);
    return ev.seq > 0n;
  }

  private finish(error?: ConnectError): void {
    if (this.phase === "done") return;
    this.phase = "done";
    clearTimeout(this.joinTimer);
    this.unsubscribe?.();
    this.local.controller.abort();
    for (const r of this.remotes.values()) r.controller.abort();
    this.remotes.clear();
    this.deps.hub.release(this.sessionId, this.localQueue);
    this.localQueue.fail(new ConnectError("the watch ended", Code.Canceled));
    this.out.end(error);
  }
}

/**
 * track follows which turn a source is in the middle of: from its first
 * event to its last (completed, failed or interrupted), or to the notice
 * that a run was withdrawn.
 */
function track(source: Source, ev: SessionEvent): void {
  switch (ev.kind.case) {
    case "accepted":
    case "output":
    case "transition":
      if (ev.seq > 0n && source.turn !== ev.turnId) {
        source.turn = ev.turnId;
        source.forwarded = false;
        source.turnStart = ev.seq - BigInt(ev.kind.case === "output" ? outputWeight(ev.kind.value.text) : 1);
      }
      return;
    case "completed":
    case "interrupted":
    case "failed":
      if (ev.seq > 0n || ev.turnId === source.turn) {
        source.turn = undefined;
        source.forwarded = false;
      }
      return;
    default:
      return;
  }
}

/**
 * peerGone tells whether a relay's error means the peer went away (it
 * stopped, drains, or cannot be reached), rather than refusing the caller.
 */
function peerGone(code: Code): boolean {
  return code === Code.Unavailable || code === Code.Canceled || code === Code.DeadlineExceeded || code === Code.Unknown || code === Code.Internal || code === Code.Aborted;
}
