import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { Logger } from "../log.js";
import type { ReplicaDirectory, ReplicaEntry } from "./replica-directory.js";

/**
 * ReplicaPeersOptions are what ReplicaPeers needs.
 */
export interface ReplicaPeersOptions {
  directory: ReplicaDirectory;
  /** This replica's id in the directory. */
  id: string;
  /** How often this replica renews its entry and reads the others', ms. */
  heartbeatMs: number;
  log: Logger;
}

/**
 * leaseBeats is how many heartbeats an entry outlives its last renewal:
 * a replica that misses two in a row (a slow database, a long pause) is
 * still listed.
 */
const leaseBeats = 3;

/** peerPingMs is how long a relay's connection may be quiet before it is pinged, and how long the ping may take. */
const peerPingMs = 5_000;

interface Peer {
  entry: ReplicaEntry;
  client: Client<typeof OrchestratorService>;
  sessions: Http2SessionManager;
}

/**
 * ReplicaPeers keeps this replica's entry in the replica directory alive
 * and knows the other replicas: a heartbeat renews the entry and reads
 * the others', and whoever listens (the watches relaying from them) hears
 * after every heartbeat. It keeps one HTTP/2 connection per peer, made on
 * first use and dropped when the peer leaves the directory.
 */
export class ReplicaPeers {
  private peers = new Map<string, Peer>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  /** Where the other replicas reach this one; unset: it is not announced (it still relays from the others). */
  private url: string | undefined;

  constructor(private readonly opts: ReplicaPeersOptions) {}

  /** id is this replica's id. */
  get id(): string {
    return this.opts.id;
  }

  /**
   * start announces this replica at `url` (unless undefined) and reads the
   * others, then keeps doing so every heartbeat.
   */
  async start(url: string | undefined): Promise<void> {
    this.url = url;
    await this.beat();
    this.timer = setInterval(() => void (this.beating ??= this.beat().finally(() => (this.beating = undefined))), this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** list is the other replicas, as of the last heartbeat. */
  list(): ReplicaEntry[] {
    return [...this.peers.values()].map((p) => p.entry);
  }

  /** client returns a client of a listed peer's API; undefined once it left the directory. */
  client(id: string): Client<typeof OrchestratorService> | undefined {
    return this.peers.get(id)?.client;
  }

  /** onBeat calls `listener` after every heartbeat; it returns the unsubscribe. */
  onBeat(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * withdraw stops the heartbeat and takes this replica out of the
   * directory (a draining replica): no new watch relays from it, while
   * the relays running go on until its streams end.
   */
  async withdraw(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    if (this.url !== undefined) {
      await this.opts.directory.withdraw(this.opts.id).catch((err: unknown) => this.opts.log.warn({ err }, "could not withdraw this replica from the directory; it drops out when its lease runs out"));
    }
  }

  /** close withdraws this replica and closes the peers' connections and the directory. */
  async close(): Promise<void> {
    await this.withdraw();
    for (const p of this.peers.values()) p.sessions.abort();
    this.peers.clear();
    await this.opts.directory.close();
  }

  private async beat(): Promise<void> {
    const { directory, id, heartbeatMs, log } = this.opts;
    const url = this.url;
    const now = Date.now();
    try {
      if (url !== undefined) await directory.announce({ id, url, expiresAt: now + leaseBeats * heartbeatMs });
      const live = await directory.live(now);
      if (this.stopped) return;
      this.update(live.filter((e) => e.id !== id && e.url !== url));
      await directory.sweep(now - leaseBeats * heartbeatMs);
    } catch (err) {
      // The last view stays: watches keep relaying from the peers they know.
      log.warn({ err }, "replica heartbeat failed; keeping the last view of the other replicas");
    }
    for (const listener of this.listeners) listener();
  }

  private update(live: ReplicaEntry[]): void {
    const next = new Map<string, Peer>();
    for (const entry of live) {
      const known = this.peers.get(entry.id);
      if (known !== undefined && known.entry.url === entry.url) {
        next.set(entry.id, { ...known, entry });
        continue;
      }
      // Pings find a peer that vanished without closing its connection
      // (a lost machine) even before its lease runs out.
      const sessions = new Http2SessionManager(entry.url, { pingIntervalMs: peerPingMs, pingTimeoutMs: peerPingMs });
      const client = createClient(OrchestratorService, createGrpcTransport({ baseUrl: entry.url, sessionManager: sessions }));
      next.set(entry.id, { entry, client, sessions });
    }
    for (const [peerId, p] of this.peers) if (next.get(peerId)?.sessions !== p.sessions) p.sessions.abort();
    this.peers = next;
  }
}

/**
 * advertisedUrl is where the other replicas reach this one: `advertise` as
 * given (a URL; or a host, host:port or [IPv6]:port, which gets the
 * server's scheme and, without a port, its listen port), else the listen
 * address when it is a specific one. It is undefined for a wildcard listen
 * address (0.0.0.0, ::) with nothing advertised: the replica cannot tell
 * where it is reached. It throws for an `advertise` that is not an address.
 */
export function advertisedUrl(advertise: string, host: string, port: number, tls: boolean): string | undefined {
  const scheme = tls ? "https" : "http";
  if (advertise === "") {
    if (["", "0.0.0.0", "::", "[::]"].includes(host)) return undefined;
    return `${scheme}://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
  }
  const withScheme = advertise.includes("://")
    ? advertise
    : `${scheme}://${advertise.includes(":") && !advertise.startsWith("[") && advertise.indexOf(":") !== advertise.lastIndexOf(":") ? `[${advertise}]` : advertise}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`${JSON.stringify(advertise)} is not an address: give a URL (http://10.0.0.7:50051), a host:port or a host`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${JSON.stringify(advertise)}: the scheme must be http or https`);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") throw new Error(`${JSON.stringify(advertise)}: give the server's address only, without a path`);
  if (url.port === "" && !advertise.includes("://")) url.port = String(port);
  return url.origin;
}
