/**
 * ReplicaEntry is one orchestrator replica as the directory lists it.
 */
export interface ReplicaEntry {
  /** The replica's id, new at every start. */
  readonly id: string;
  /** Where the other replicas reach its API (http:// or https://). */
  readonly url: string;
  /** Epoch ms after which the entry no longer counts (its heartbeat stopped). */
  readonly expiresAt: number;
}

/**
 * ReplicaDirectory is where the replicas sharing one session store say
 * where they can be reached, so that a watcher on any of them can relay
 * the live events of a session another one runs. Entries carry a lease
 * that each replica's heartbeat renews; a replica that stops renewing
 * drops out when its lease runs out.
 */
export interface ReplicaDirectory {
  /** announce writes (or renews) this replica's entry. */
  announce(entry: ReplicaEntry): Promise<void>;
  /** live lists the entries whose lease runs past `now`, oldest id first. */
  live(now: number): Promise<ReplicaEntry[]>;
  /** withdraw removes an entry (a replica that drains). */
  withdraw(id: string): Promise<void>;
  /** sweep deletes entries whose lease ran out before `now`. */
  sweep(now: number): Promise<void>;
  close(): Promise<void>;
}
