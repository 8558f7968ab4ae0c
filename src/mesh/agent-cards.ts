import { type Client, createClient } from "@connectrpc/connect";
import { AgentService } from "../gen/switchboard/v1/agent_pb.js";
import { grpcTransport, type PooledTransport, type TransportFactory } from "./connection-pool.js";
import type { InstanceInfo } from "./registry.js";

/**
 * AgentCards answers questions about agents from their cards: the card an
 * instance registered with, or, for instances from the configuration (whose
 * card the orchestrator does not have), the card Describe returns, asked of
 * one instance per agent and cached for `ttlMs`.
 */
export class AgentCards {
  private readonly cache = new Map<string, { acceptsAudio: boolean; until: number }>();
  private readonly clients = new Map<string, { client: Client<typeof AgentService>; pooled: PooledTransport }>();

  constructor(
    private readonly instancesOf: (agent: string) => InstanceInfo[],
    private readonly transport: TransportFactory = grpcTransport,
    private readonly ttlMs = 60_000,
  ) {}

  /**
   * acceptsAudio tells whether an agent's card declares `accepts_audio`.
   * An agent that cannot be asked is taken not to accept audio.
   */
  async acceptsAudio(agent: string): Promise<boolean> {
    const instances = this.instancesOf(agent);
    const registered = instances.find((i) => i.source === "registered");
    if (registered !== undefined) return registered.card.acceptsAudio;
    const cached = this.cache.get(agent);
    if (cached !== undefined && cached.until > Date.now()) return cached.acceptsAudio;
    const endpoint = instances[0]?.endpoint;
    let acceptsAudio = false;
    if (endpoint !== undefined) {
      try {
        let entry = this.clients.get(endpoint);
        if (entry === undefined) {
          const pooled = this.transport(endpoint);
          entry = { client: createClient(AgentService, pooled.transport), pooled };
          this.clients.set(endpoint, entry);
        }
        const { card } = await entry.client.describe({}, { timeoutMs: 2000 });
        acceptsAudio = card?.acceptsAudio ?? false;
      } catch {
        // Unknown: audio is not sent to an agent that did not say it takes it.
      }
    }
    this.cache.set(agent, { acceptsAudio, until: Date.now() + this.ttlMs });
    return acceptsAudio;
  }

  /** close ends the connections used for Describe. */
  close(): void {
    for (const { pooled } of this.clients.values()) pooled.close();
    this.clients.clear();
  }
}
