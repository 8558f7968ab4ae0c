import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AgentCard, AgentCardSchema } from "../gen/switchboard/v1/agent_pb.js";
import { instanceIdFor, type Registration, type RegistryStore } from "./registry-store.js";

/**
 * InstanceInfo is one agent instance as the registry knows it.
 */
export interface InstanceInfo {
  readonly id: string;
  /** The agent's name (`card.name`). */
  readonly name: string;
  readonly card: AgentCard;
  readonly endpoint: string;
  /** "static" (from configuration) or "registered" (with a lease). */
  readonly source: "static" | "registered";
  /** When the lease runs out (ms since epoch); undefined for static instances. */
  readonly expiresAt: number | undefined;
}

/**
 * StaticInstance is an instance from the orchestrator's configuration.
 */
export interface StaticInstance {
  name: string;
  endpoint: string;
  /** More of the agent's card. */
  card?: { version?: string; description?: string; intents?: string[]; metadata?: Record<string, string> };
}

/**
 * RegistryOptions configure a Registry.
 */
export interface RegistryOptions {
  store: RegistryStore;
  statics?: StaticInstance[];
  /** The clock, in ms since the epoch. */
  now?: () => number;
  /**
   * How often this replica re-reads the store: the bound on how stale its
   * view of registrations made through other replicas can be. Default 2s.
   */
  refreshMs?: number;
  /** How often expired registrations are deleted from the store. Default 30s. */
  sweepMs?: number;
  /** The lease granted when an agent asks for none. Default 30s. */
  defaultLeaseMs?: number;
  /** The shortest lease granted. Default 1s. */
  minLeaseMs?: number;
  /** The longest lease granted. Default 5 minutes. */
  maxLeaseMs?: number;
  /** The most registered instances. Default 10,000. */
  maxInstances?: number;
  /** Called when a refresh from the store fails; the last view stays in use. */
  onRefreshError?: (err: unknown) => void;
}

interface Cached extends InstanceInfo {
  readonly leaseMs: number;
  readonly expiresAt: number;
}

/**
 * Registry is this replica's view of the agent instances: the static ones
 * from configuration and the registered ones from the RegistryStore. Reads
 * never touch the store: they use a cache that is refreshed every
 * `refreshMs`, updated at once by writes made through this replica, and
 * filtered by lease expiry at the time of each read, so an expired lease
 * stops routing at once on every replica.
 */
export class Registry {
  private readonly store: RegistryStore;
  /** now is the registry's clock (ms since the epoch): leases run out by it. */
  readonly now: () => number;
  private readonly statics = new Map<string, InstanceInfo>();
  private cached = new Map<string, Cached>();
  private byName = new Map<string, InstanceInfo[]>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private lastSweep = 0;
  private readonly o: Required<Omit<RegistryOptions, "store" | "statics" | "now" | "onRefreshError">>;

  constructor(private readonly opts: RegistryOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.o = {
      refreshMs: opts.refreshMs ?? 2000,
      sweepMs: opts.sweepMs ?? 30_000,
      defaultLeaseMs: opts.defaultLeaseMs ?? 30_000,
      minLeaseMs: opts.minLeaseMs ?? 1000,
      maxLeaseMs: opts.maxLeaseMs ?? 5 * 60_000,
      maxInstances: opts.maxInstances ?? 10_000,
    };
    for (const s of opts.statics ?? []) {
      const id = instanceIdFor(s.name, s.endpoint.replace(/\/+$/, ""));
      this.statics.set(id, {
        id,
        name: s.name,
        card: create(AgentCardSchema, { ...s.card, name: s.name }),
        endpoint: s.endpoint.replace(/\/+$/, ""),
        source: "static",
        expiresAt: undefined,
      });
    }
    this.reindex();
  }

  /**
   * start reads the store once and then keeps the view fresh.
   */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.tick(), this.o.refreshMs);
    this.timer.unref();
  }

  /**
   * stop ends the refreshes.
   */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * refresh replaces the cached registrations with the store's live ones.
   */
  async refresh(): Promise<void> {
    const live = await this.store.listLive(this.now(), this.o.maxInstances);
    const next = new Map<string, Cached>();
    for (const r of live) next.set(r.instanceId, cachedOf(r));
    const changed = next.size !== this.cached.size || [...next.keys()].some((id) => !this.cached.has(id));
    this.cached = next;
    this.reindex();
    if (changed) this.emit();
  }

  private async tick(): Promise<void> {
    try {
      await this.refresh();
      const now = this.now();
      if (now - this.lastSweep >= this.o.sweepMs) {
        this.lastSweep = now;
        await this.store.sweep(now);
      }
    } catch (e) {
      this.opts.onRefreshError?.(e);
    }
  }

  /**
   * grantLease returns the lease granted for a requested one (0: the default).
   */
  grantLease(requestedMs: number): number {
    if (requestedMs <= 0) return this.o.defaultLeaseMs;
    return Math.min(this.o.maxLeaseMs, Math.max(this.o.minLeaseMs, Math.round(requestedMs)));
  }

  /**
   * register adds an instance (or renews the one at the same endpoint) with
   * a lease, and returns its registration.
   */
  async register(card: AgentCard, endpoint: string, requestedLeaseMs: number): Promise<Registration> {
    const instanceId = instanceIdFor(card.name, endpoint);
    if (!this.cached.has(instanceId) && this.cached.size >= this.o.maxInstances) {
      throw new ConnectError(
        `the registry holds its limit of ${this.o.maxInstances} instances; deregister unused instances or let their leases run out`,
        Code.ResourceExhausted,
      );
    }
    const now = this.now();
    const leaseMs = this.grantLease(requestedLeaseMs);
    const registration: Registration = { instanceId, card, endpoint, leaseMs, expiresAt: now + leaseMs, registeredAt: now };
    await this.store.put(registration);
    const isNew = !this.cached.has(instanceId);
    this.cached.set(instanceId, cachedOf(registration));
    this.reindex();
    if (isNew) this.emit();
    return registration;
  }

  /**
   * heartbeat extends an instance's lease by the lease it was granted, or
   * fails with NOT_FOUND when the instance is unknown or its lease ran out.
   */
  async heartbeat(instanceId: string): Promise<Registration> {
    this.refuseStatic(instanceId, "heartbeat");
    const now = this.now();
    const leaseMs = this.cached.get(instanceId)?.leaseMs ?? (await this.store.get(instanceId, now))?.leaseMs;
    const renewed = leaseMs === undefined ? undefined : await this.store.renew(instanceId, now + leaseMs, now);
    if (renewed === undefined) {
      if (this.cached.delete(instanceId)) {
        this.reindex();
        this.emit();
      }
      throw notRegistered(instanceId);
    }
    this.cached.set(instanceId, cachedOf(renewed));
    this.reindex();
    return renewed;
  }

  /**
   * deregister removes an instance at once.
   */
  async deregister(instanceId: string): Promise<void> {
    this.refuseStatic(instanceId, "deregister");
    const removed = await this.store.remove(instanceId);
    const wasCached = this.cached.delete(instanceId);
    if (wasCached) {
      this.reindex();
      this.emit();
    }
    if (!removed && !wasCached) throw notRegistered(instanceId);
  }

  /**
   * instances lists the live instances, of one agent or of all, ordered by id.
   */
  instances(name?: string): InstanceInfo[] {
    const now = this.now();
    const list = name === undefined ? [...this.byName.values()].flat() : (this.byName.get(name) ?? []);
    return list.filter((i) => i.expiresAt === undefined || i.expiresAt > now);
  }

  /**
   * has tells whether an agent has a live instance.
   */
  has(name: string): boolean {
    return this.instances(name).length > 0;
  }

  /**
   * onChange calls `listener` whenever instances appear or disappear (after
   * a write through this replica or a refresh); it returns the unsubscribe.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private refuseStatic(instanceId: string, what: string): void {
    if (this.statics.has(instanceId)) {
      throw new ConnectError(
        `agent instance ${instanceId} comes from the orchestrator's configuration and has no lease to ${what}; change the configuration instead`,
        Code.FailedPrecondition,
      );
    }
  }

  private reindex(): void {
    const byName = new Map<string, InstanceInfo[]>();
    const add = (i: InstanceInfo) => {
      const list = byName.get(i.name);
      if (list === undefined) byName.set(i.name, [i]);
      else list.push(i);
    };
    for (const i of this.statics.values()) add(i);
    // A registration of a statically configured instance adds nothing.
    for (const i of this.cached.values()) if (!this.statics.has(i.id)) add(i);
    for (const list of byName.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.byName = byName;
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

function cachedOf(r: Registration): Cached {
  return {
    id: r.instanceId,
    name: r.card.name,
    card: r.card,
    endpoint: r.endpoint,
    source: "registered",
    expiresAt: r.expiresAt,
    leaseMs: r.leaseMs,
  };
}

function notRegistered(instanceId: string): ConnectError {
  return new ConnectError(
    `agent instance ${instanceId} is not registered (unknown id, or its lease ran out); register it again`,
    Code.NotFound,
  );
}
