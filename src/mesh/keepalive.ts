import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { type LoopDelay, processLoopDelay } from "./loop-delay.js";

/**
 * KeepaliveOptions configure the HTTP/2 PINGs that keep a connection to an
 * agent instance honest while turns stream on it.
 */
export interface KeepaliveOptions {
  /** How long a connection with streams may be quiet before it is pinged. Default 15s. */
  intervalMs: number;
  /** How long a PING may go unanswered, with this process's loop running, before the connection is given up. Default 10s. */
  timeoutMs: number;
}

/**
 * defaultKeepaliveOptions are the keepalive settings when none are configured.
 */
export const defaultKeepaliveOptions: KeepaliveOptions = { intervalMs: 15_000, timeoutMs: 10_000 };

/**
 * PingableSession is the part of an HTTP/2 session keepalive uses.
 */
export interface PingableSession {
  readonly destroyed: boolean;
  ping(callback: (err: Error | null) => void): boolean;
  destroy(error?: Error, code?: number): void;
}

/**
 * SessionKeepalive pings one HTTP/2 connection once it has been quiet for
 * `intervalMs` while streams are open on it, and gives the connection up
 * (failing its streams with UNAVAILABLE "PING timed out") when a PING goes
 * unanswered for `timeoutMs` — unless this process's own event loop
 * stalled during the wait: then the answer may be sitting unread in the
 * socket, so the PING gets another `timeoutMs` with the loop watched
 * afresh. Only a timeout with the loop healthy counts against the agent.
 */
export class SessionKeepalive {
  private streams = 0;
  private lastAliveAt: number;
  private timer: NodeJS.Timeout | undefined;
  /** The PING in flight: whoever waits for its answer. */
  private inFlight: Array<(answered: boolean) => void> | undefined;

  constructor(
    private readonly session: PingableSession,
    private readonly o: KeepaliveOptions,
    private readonly loop: LoopDelay,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastAliveAt = now();
  }

  /** streamOpened counts a stream; the first one starts the pings. */
  streamOpened(): void {
    if (++this.streams === 1 && this.inFlight === undefined) this.arm();
  }

  /** streamClosed uncounts a stream; an idle connection is not pinged. */
  streamClosed(): void {
    if (--this.streams === 0 && this.inFlight === undefined) this.clear();
  }

  /**
   * alive records that the connection just delivered something. It is
   * called for every chunk read, so it only notes the time; the timer
   * catches up when it fires.
   */
  alive(): void {
    this.lastAliveAt = this.now();
  }

  /** stale tells whether an idle connection was quiet so long that it should be verified before use. */
  get stale(): boolean {
    return this.streams === 0 && this.now() - this.lastAliveAt > this.o.intervalMs;
  }

  /**
   * ping sends a PING now, or joins the one in flight, and resolves true
   * once it is answered, false once the connection was given up.
   */
  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.inFlight !== undefined) {
        this.inFlight.push(resolve);
        return;
      }
      this.inFlight = [resolve];
      this.send();
    });
  }

  /** stop ends the pings (the connection closed). */
  stop(): void {
    this.clear();
    this.settle(false);
  }

  private send(): void {
    const waiting = this.inFlight;
    let waitFrom = this.now();
    const judge = () => {
      if (this.inFlight !== waiting) return;
      if (this.loop.stalledSince(waitFrom)) {
        // I was late, not they: the answer may be unread in the socket.
        waitFrom = this.now();
        this.schedule(judge, this.o.timeoutMs);
        return;
      }
      this.settle(false);
      this.session.destroy(new ConnectError("PING timed out", Code.Unavailable), http2.constants.NGHTTP2_CANCEL);
    };
    this.schedule(judge, this.o.timeoutMs);
    let sent: boolean;
    try {
      sent = this.session.ping((err) => {
        if (this.inFlight !== waiting) return;
        this.clear();
        // An error here is the connection closing; its own events report that.
        if (err === null) this.alive();
        this.settle(err === null);
        if (err === null && this.streams > 0) this.arm();
      });
    } catch {
      sent = false; // the session is closing
    }
    if (!sent) {
      this.clear();
      this.settle(false);
    }
  }

  /** arm waits until the connection has been quiet for the interval. */
  private arm(): void {
    this.schedule(() => {
      if (this.streams === 0 || this.session.destroyed) return;
      // Bytes arrived since the timer was set: wait out the rest of the quiet.
      if (this.now() - this.lastAliveAt < this.o.intervalMs) this.arm();
      else void this.ping();
    }, this.o.intervalMs - (this.now() - this.lastAliveAt));
  }

  private schedule(fn: () => void, ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(fn, Math.max(0, ms));
    this.timer.unref();
  }

  private clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private settle(answered: boolean): void {
    const waiting = this.inFlight;
    this.inFlight = undefined;
    for (const resolve of waiting ?? []) resolve(answered);
  }
}

/**
 * KeepaliveSessionManager is Connect's Http2SessionManager with its PINGs
 * replaced by SessionKeepalive, so a connection is never given up because
 * this process was too busy (or stopped) to read the answer. It keeps the
 * manager's connection handling (connect, reconnect, GOAWAY, idle close)
 * and, like it, verifies an idle connection that has been quiet longer
 * than the interval with a PING before using it again.
 */
export class KeepaliveSessionManager extends Http2SessionManager {
  private readonly keepalives = new WeakMap<http2.ClientHttp2Session, SessionKeepalive>();
  /** The session the last stream went out on: the one the next request probably uses. */
  private last: http2.ClientHttp2Session | undefined;

  constructor(
    url: string,
    private readonly keepalive: KeepaliveOptions,
    http2SessionOptions: http2.ClientSessionOptions | http2.SecureClientSessionOptions | undefined,
    private readonly loop: LoopDelay = processLoopDelay(),
  ) {
    // The manager's own PINGs (and its verification, timed by the same
    // interval) are off: SessionKeepalive does both.
    super(url, { pingIntervalMs: Number.POSITIVE_INFINITY, idleConnectionTimeoutMs: 5 * 60_000 }, http2SessionOptions);
  }

  override request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const last = this.last;
    const k = last !== undefined && !last.destroyed && !last.closed ? this.keepalives.get(last) : undefined;
    if (k?.stale !== true) return super.request(method, path, headers, options).then((s) => this.track(s));
    // A connection quiet for long may have died silently: a PING first; if
    // it goes unanswered, the connection is given up and the manager opens
    // a new one for this request.
    return k.ping().then(() => super.request(method, path, headers, options).then((s) => this.track(s)));
  }

  override notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    super.notifyResponseByteRead(stream);
    this.keepalives.get(stream.session as http2.ClientHttp2Session)?.alive();
  }

  private track(stream: http2.ClientHttp2Stream): http2.ClientHttp2Stream {
    const session = stream.session as http2.ClientHttp2Session;
    let k = this.keepalives.get(session);
    if (k === undefined) {
      const created = new SessionKeepalive(session, this.keepalive, this.loop);
      k = created;
      this.keepalives.set(session, created);
      session.once("close", () => created.stop());
      // Giving a connection up destroys it with an error; once the manager
      // moved on from it (GOAWAY, a newer connection), nobody else listens,
      // and an unheard "error" would end the process.
      session.on("error", () => undefined);
    }
    this.last = session;
    k.streamOpened();
    const opened = k;
    stream.once("response", () => opened.alive());
    stream.once("close", () => opened.streamClosed());
    return stream;
  }
}
