import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { AgentCard } from "../../../src/gen/switchboard/v1/agent_pb.js";
import { RegistryService } from "../../../src/gen/switchboard/v1/registry_pb.js";

/**
 * RegistrationOptions make an agent register itself with an orchestrator
 * and keep its lease alive.
 */
export interface RegistrationOptions {
  /** The orchestrator's URL, e.g. "http://127.0.0.1:50051". */
  orchestrator: string;
  /** The orchestrator's registration token (its --registry-token), if it has one. */
  token?: string;
  /** The lease to ask for, ms (default 30s); heartbeats go every third of the lease granted. */
  leaseMs?: number;
  /**
   * The endpoint to announce; the agent's own URL by default. Set it when
   * the orchestrator reaches the agent at another address (a container's
   * published port, a service name).
   */
  endpoint?: string;
  /** Called when a heartbeat or re-registration fails; the agent keeps trying. */
  onError?: (err: ConnectError) => void;
}

/**
 * Registration is an agent's registration with one orchestrator: it
 * registers, heartbeats every third of the lease, registers again when the
 * orchestrator lost it (a restart, an expired lease), and deregisters on stop.
 */
export class Registration {
  private readonly client: Client<typeof RegistryService>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private beating: Promise<void> | undefined;
  private id = "";
  private leaseMs = 30_000;

  constructor(private readonly card: AgentCard, private readonly endpoint: string, private readonly opts: RegistrationOptions) {
    this.client = createClient(RegistryService, createGrpcTransport({ baseUrl: opts.orchestrator }));
  }

  /** instanceId is the id the orchestrator gave this instance. */
  get instanceId(): string {
    return this.id;
  }

  /**
   * start registers once (throwing if that fails) and starts the heartbeats.
   */
  async start(): Promise<void> {
    await this.register();
    this.schedule();
  }

  /**
   * stop ends the heartbeats and deregisters, so the orchestrator stops
   * routing to the instance at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (this.id === "") return;
    try {
      await this.client.deregister({ instanceId: this.id, token: this.opts.token ?? "" }, { timeoutMs: 2000 });
    } catch (e) {
      const err = ConnectError.from(e);
      // Already gone is what we wanted.
      if (err.code !== Code.NotFound) this.opts.onError?.(err);
    }
  }

  private async register(): Promise<void> {
    const res = await this.client.register(
      {
        card: this.card,
        endpoint: this.endpoint,
        token: this.opts.token ?? "",
        ...(this.opts.leaseMs !== undefined ? { lease: durationFromMs(this.opts.leaseMs) } : {}),
      },
      { timeoutMs: 5000 },
    );
    this.id = res.instanceId;
    if (res.lease !== undefined) this.leaseMs = durationMs(res.lease);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat().finally(() => (this.beating = undefined));
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const timeoutMs = Math.max(100, Math.floor(this.leaseMs / 3));
    try {
      await this.client.heartbeat({ instanceId: this.id, token: this.opts.token ?? "" }, { timeoutMs });
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.NotFound && !this.stopped) {
        // The orchestrator forgot the instance: register again.
        try {
          await this.register();
        } catch (e2) {
          this.opts.onError?.(ConnectError.from(e2));
        }
      } else {
        this.opts.onError?.(err);
      }
    }
    this.schedule();
  }
}
