import { clone } from "@bufbuild/protobuf";
import { AgentCardSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { Registration, RegistryStore } from "../mesh/registry-store.js";

/**
 * MemoryRegistryStore keeps registrations in the process: the default for a
 * single orchestrator. Replicas that must share the registry use a database
 * store instead.
 */
export class MemoryRegistryStore implements RegistryStore {
  private readonly registrations = new Map<string, Registration>();

  async put(registration: Registration): Promise<void> {
    this.registrations.set(registration.instanceId, copy(registration));
  }

  async get(instanceId: string, now: number): Promise<Registration | undefined> {
    const r = this.registrations.get(instanceId);
    return r !== undefined && r.expiresAt > now ? copy(r) : undefined;
  }

  async renew(instanceId: string, expiresAt: number, now: number): Promise<Registration | undefined> {
    const r = this.registrations.get(instanceId);
    if (r === undefined || r.expiresAt <= now) return undefined;
    r.expiresAt = expiresAt;
    return copy(r);
  }

  async remove(instanceId: string): Promise<boolean> {
    return this.registrations.delete(instanceId);
  }

  async listLive(now: number, limit: number): Promise<Registration[]> {
    return [...this.registrations.values()]
      .filter((r) => r.expiresAt > now)
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0))
      .slice(0, limit)
      .map(copy);
  }

  async sweep(now: number): Promise<number> {
    let n = 0;
    for (const [id, r] of this.registrations) {
      if (r.expiresAt <= now) {
        this.registrations.delete(id);
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {}
}

function copy(r: Registration): Registration {
  return { ...r, card: clone(AgentCardSchema, r.card) };
}
