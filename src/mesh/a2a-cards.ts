import { type AgentCard, type AgentInterface } from "@a2a-js/sdk";
import { type Client, ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory } from "@a2a-js/sdk/client";
import { Code, ConnectError } from "@connectrpc/connect";
import { mark } from "../core/errors.js";
import { isConnectionFailure } from "./connection-pool.js";
import type { HealthVerdict } from "./health-checker.js";

/**
 * a2aBindings are the A2A protocol bindings Switchboard calls, in the order
 * it prefers them: both stream over Server-Sent Events with the SDK's client.
 */
export const a2aBindings: readonly string[] = ["JSONRPC", "HTTP+JSON"];

/**
 * A2aAgent is an A2A agent as its card describes it, with the SDK's client
 * for the interface chosen.
 */
export interface A2aAgent {
  readonly card: AgentCard;
  readonly client: Client;
  /** The interface the client talks to. */
  readonly via: AgentInterface;
}

/**
 * A2aCards reads A2A agents' cards and keeps a client per card URL. A card
 * is read on first use and again once it is `ttlMs` old or a call to the
 * agent could not connect (it may have moved), so a card's change reaches
 * the mesh without a restart. Reading goes through the SDK's card resolver,
 * and the client through its ClientFactory with the JSON-RPC and HTTP+JSON
 * transports.
 */
export class A2aCards {
  private readonly known = new Map<string, { agent: Promise<A2aAgent>; readAt: number }>();

  constructor(private readonly ttlMs = 5 * 60_000) {}

  /**
   * agent returns the agent behind a card URL, reading its card when it is
   * not known or too old. It throws a ConnectError: UNAVAILABLE (retryable)
   * when the card could not be fetched for the network, FAILED_PRECONDITION
   * when it was fetched but is no usable A2A card.
   */
  agent(cardUrl: string, signal: AbortSignal): Promise<A2aAgent> {
    const now = Date.now();
    const k = this.known.get(cardUrl);
    if (k !== undefined && now - k.readAt < this.ttlMs) return k.agent;
    const agent = readAgent(cardUrl, signal);
    this.known.set(cardUrl, { agent, readAt: now });
    // A failed read is not kept: the next call reads again.
    agent.catch(() => {
      if (this.known.get(cardUrl)?.agent === agent) this.known.delete(cardUrl);
    });
    return agent;
  }

  /**
   * probe reads a card afresh, as the health check of an A2A agent: an
   * agent that serves its card is taken to serve its interface.
   */
  async probe(cardUrl: string, timeoutMs: number): Promise<HealthVerdict> {
    this.forget(cardUrl);
    try {
      await this.agent(cardUrl, AbortSignal.timeout(timeoutMs));
      return "serving";
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.Canceled) return "timed_out";
      return err.code === Code.Unavailable ? "unreachable" : "not_serving";
    }
  }

  /** forget drops what is known of a card, so the next call reads it again. */
  forget(cardUrl: string): void {
    this.known.delete(cardUrl);
  }
}

/**
 * readAgent fetches a card and makes the SDK's client for the first of its
 * interfaces whose binding Switchboard calls.
 */
async function readAgent(cardUrl: string, signal: AbortSignal): Promise<A2aAgent> {
  // The resolver takes no signal of its own: its fetch carries the call's.
  const resolver = new DefaultAgentCardResolver({ fetchImpl: (input, init) => fetch(input, { ...init, signal }) });
  let card: AgentCard;
  try {
    card = await resolver.resolve(cardUrl, "");
  } catch (e) {
    throw cardError(cardUrl, e, signal);
  }
  const interfaces = card.supportedInterfaces ?? [];
  const via = a2aBindings.map((b) => interfaces.find((i) => i.protocolBinding.toUpperCase() === b)).find((i) => i !== undefined);
  if (via === undefined) {
    const offered = interfaces.map((i) => `${i.protocolBinding} at ${i.url}`).join(", ") || "none";
    throw new ConnectError(
      `the A2A agent card at ${cardUrl} offers no interface Switchboard can call: it offers ${offered}; Switchboard calls ${a2aBindings.join(" or ")}`,
      Code.FailedPrecondition,
    );
  }
  const factory = new ClientFactory({
    transports: [new JsonRpcTransportFactory(), new RestTransportFactory()],
    preferredTransports: [via.protocolBinding],
  });
  try {
    return { card, client: await factory.createFromAgentCard(card), via };
  } catch (e) {
    throw new ConnectError(`the A2A agent card at ${cardUrl} could not be used: ${e instanceof Error ? e.message : String(e)}`, Code.FailedPrecondition);
  }
}

/**
 * cardError says why a card could not be read: the network (retryable, and
 * the instance's breaker counts it), the call's time, or a card that is not one.
 */
function cardError(cardUrl: string, e: unknown, signal: AbortSignal): ConnectError {
  const why = e instanceof Error ? e.message : String(e);
  if (signal.aborted) return new ConnectError(`reading the A2A agent card at ${cardUrl} was cut short: ${why}`, Code.Canceled, undefined, undefined, e);
  if (isConnectionFailure(e)) {
    return mark(new ConnectError(`the A2A agent card at ${cardUrl} could not be fetched: ${connectionReason(e)}`, Code.Unavailable, undefined, undefined, e), "retryable");
  }
  const status = /: (\d{3})$/.exec(why)?.[1];
  if (status !== undefined && Number(status) >= 500) {
    return mark(new ConnectError(`the A2A agent card at ${cardUrl} could not be fetched: HTTP ${status}`, Code.Unavailable, undefined, undefined, e), "retryable");
  }
  const what = status !== undefined ? `HTTP ${status}` : why;
  return new ConnectError(`no A2A agent card could be read at ${cardUrl} (${what}); check the URL in the flow`, Code.FailedPrecondition, undefined, undefined, e);
}

/**
 * connectionReason is the innermost message of a failed connection
 * (fetch says only "fetch failed"; its cause says "connect ECONNREFUSED ...").
 */
export function connectionReason(e: unknown): string {
  let reason = e instanceof Error ? e.message : String(e);
  for (let c = (e as { cause?: unknown }).cause; c instanceof Error; c = (c as { cause?: unknown }).cause) reason = c.message;
  return reason;
}
