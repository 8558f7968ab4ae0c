import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type Client } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  type AgentService,
  type HandleTurnRequest,
  HandleTurnRequestSchema,
  type HandleTurnResponse,
} from "../gen/switchboard/v1/agent_pb.js";

/**
 * ProbeEvent is one thing that happened on a probed HandleTurn stream, with
 * the milliseconds since the stream was opened.
 */
export type ProbeEvent =
  | { kind: "delta"; text: string; at: number }
  | { kind: "result"; response: HandleTurnResponse; at: number }
  | { kind: "end"; error?: ConnectError; at: number };

/**
 * errorOf returns the error a stream ended with, if the event is its end.
 */
export function errorOf(e: ProbeEvent | undefined): ConnectError | undefined {
  return e?.kind === "end" ? e.error : undefined;
}

/**
 * TurnProbe drives one HandleTurn stream by hand: the caller sends request
 * messages when it chooses and waits for what the agent answers, with
 * every answer time-stamped. The request side stays open until `close`.
 */
export class TurnProbe {
  readonly events: ProbeEvent[] = [];
  private readonly started = performance.now();
  private readonly requests = createWritableIterable<HandleTurnRequest>();
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();

  constructor(client: Client<typeof AgentService>, timeoutMs: number) {
    void this.consume(client, timeoutMs);
  }

  /** elapsed is the milliseconds since the stream was opened. */
  elapsed(): number {
    return Math.round(performance.now() - this.started);
  }

  /**
   * send queues a request message. The probe does not wait for the stream
   * to take it; a message sent after the request side closed is dropped.
   */
  send(kind: Exclude<MessageInitShape<typeof HandleTurnRequestSchema>["kind"], undefined>): void {
    this.requests.write(create(HandleTurnRequestSchema, { kind })).catch(() => undefined);
  }

  /** close half-closes the request side. */
  close(): void {
    this.requests.close();
  }

  /** cancel abandons the stream (the agent sees it cancelled). */
  cancel(): void {
    this.abort.abort();
    this.close();
  }

  /** ended tells whether the response stream has ended. */
  get ended(): ProbeEvent | undefined {
    return this.events.find((e) => e.kind === "end");
  }

  /**
   * waitFor resolves with the first event (past or future) that matches, or
   * undefined once `timeoutMs` passes or the stream ends without one.
   */
  waitFor(match: (e: ProbeEvent) => boolean, timeoutMs: number): Promise<ProbeEvent | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const hit = this.events.find(match);
        if (hit !== undefined || this.ended !== undefined) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private push(e: ProbeEvent): void {
    this.events.push(e);
    for (const w of [...this.waiters]) w();
  }

  private async consume(client: Client<typeof AgentService>, timeoutMs: number): Promise<void> {
    try {
      for await (const res of client.handleTurn(this.requests, { timeoutMs, signal: this.abort.signal })) {
        if (res.kind.case === "delta") this.push({ kind: "delta", text: res.kind.value.text, at: this.elapsed() });
        else this.push({ kind: "result", response: res, at: this.elapsed() });
      }
      this.push({ kind: "end", at: this.elapsed() });
    } catch (e) {
      this.push({ kind: "end", error: ConnectError.from(e), at: this.elapsed() });
    } finally {
      this.close();
    }
  }
}
