import { createHash } from "node:crypto";
import type { AgentCard } from "../gen/switchboard/v1/agent_pb.js";

/**
 * Registration is one agent instance that registered itself, with its lease.
 * Times are milliseconds since the epoch.
 */
export interface Registration {
  /** The instance id: `instanceIdFor(card.name, endpoint)`. */
  instanceId: string;
  /** The agent's card; `card.name` is the agent's name. */
  card: AgentCard;
  /** Where the orchestrator reaches the instance. */
  endpoint: string;
  /** The lease the instance was granted; each heartbeat extends it by this much. */
  leaseMs: number;
  /** When the lease runs out unless renewed. */
  expiresAt: number;
  /** When the instance last registered. */
  registeredAt: number;
}

/**
 * RegistryStore keeps registrations where every orchestrator replica sees
 * them: the process's memory for one replica, a database for many. Each
 * method is one atomic operation on one registration (no transactions), so
 * a document store implements it with single-document writes keyed by
 * instance id. Implementations: memory-registry-store.ts.
 */
export interface RegistryStore {
  /**
   * put creates the registration or replaces the one with the same instance
   * id (an upsert): registering again renews the lease and updates the card.
   */
  put(registration: Registration): Promise<void>;
  /**
   * get returns the registration if its lease runs past `now`.
   */
  get(instanceId: string, now: number): Promise<Registration | undefined>;
  /**
   * renew moves the lease of a registration to `expiresAt` and returns the
   * renewed registration, but only if its lease still runs past `now` (a
   * conditional update): a lease that ran out is never revived by a renewal,
   * the instance must register again. Returns undefined for an unknown or
   * expired instance.
   */
  renew(instanceId: string, expiresAt: number, now: number): Promise<Registration | undefined>;
  /**
   * remove deletes a registration; false when there was none.
   */
  remove(instanceId: string): Promise<boolean>;
  /**
   * listLive returns the registrations whose lease runs past `now`, at most
   * `limit` of them, ordered by instance id.
   */
  listLive(now: number, limit: number): Promise<Registration[]>;
  /**
   * sweep deletes the registrations whose lease ran out at or before `now`
   * and returns how many it deleted. Replicas may sweep at the same time.
   */
  sweep(now: number): Promise<number>;
  /** close releases the store's resources. */
  close(): Promise<void>;
}

/**
 * instanceIdFor derives an instance's id from its agent name and endpoint,
 * so the same instance gets the same id on every replica and registering
 * it twice updates one registration, e.g. "billing-3f2a9c41d07e".
 */
export function instanceIdFor(name: string, endpoint: string): string {
  const hash = createHash("sha256").update(name).update("\0").update(endpoint).digest("hex");
  return `${name}-${hash.slice(0, 12)}`;
}
