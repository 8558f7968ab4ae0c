import { type Client, createClient } from "@connectrpc/connect";
import { AgentService } from "../gen/switchboard/v1/agent_pb.js";
import { grpcTransport, type TransportFactory } from "./agent-pool.js";

/**
 * AgentCards answers questions about agents from their cards (Describe),
 * asked of one instance per agent and cached for `ttlMs`.
 */
export class AgentCards {
  private readonly cache = new Map<string, { acceptsAudio: boolean; until: number }>();
  private readonly clients = new Map<string, Client<typeof AgentService>>();

  constructor(
    private readonly endpointsOf: (agent: string) => string[],
    private readonly transport: TransportFactory = grpcTransport,
    private readonly ttlMs = 60_000,
  ) {}

  /**
   * acceptsAudio tells whether an agent's card declares `accepts_audio`.
   * An agent that cannot be asked is taken not to accept audio.
   */
  async acceptsAudio(agent: string): Promise<boolean> {
    const cached = this.cache.get(agent);
    if (cached !== undefined && cached.until > Date.now()) return cached.acceptsAudio;
    const endpoint = this.endpointsOf(agent)[0];
    let acceptsAudio = false;
    if (endpoint !== undefined) {
      try {
        let client = this.clients.get(endpoint);
        if (client === undefined) {
          client = createClient(AgentService, this.transport(endpoint));
          this.clients.set(endpoint, client);
        }
        const { card } = await client.describe({}, { timeoutMs: 2000 });
        acceptsAudio = card?.acceptsAudio ?? false;
      } catch {
        // Unknown: audio is not sent to an agent that did not say it takes it.
      }
    }
    this.cache.set(agent, { acceptsAudio, until: Date.now() + this.ttlMs });
    return acceptsAudio;
  }
}
