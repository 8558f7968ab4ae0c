import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  type ConverseRequest,
  ConverseRequestSchema,
  type OrchestratorService,
} from "../../src/gen/switchboard/v1/orchestrator_pb.js";
import type { TurnTiming } from "./clients.js";

/**
 * RequestQueue is the request side of a long-lived stream: messages pushed
 * are sent in order; `end` half-closes.
 */
export class RequestQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/**
 * ConverseSession is one conversation on one Converse stream, turn after
 * turn, timing each turn and its first output delta.
 */
export class ConverseSession {
  private readonly requests = new RequestQueue<ConverseRequest>();
  private pending: { t0: number; ttfd?: number; resolve(t: TurnTiming): void; reject(e: unknown): void } | undefined;
  private failure: unknown;
  private readonly abort = new AbortController();

  constructor(client: Client<typeof OrchestratorService>, sessionId: string, flowId: string) {
    this.requests.push(create(ConverseRequestSchema, { kind: { case: "open", value: { sessionId, flowId } } }));
    void (async () => {
      try {
        for await (const res of client.converse(this.requests, { signal: this.abort.signal })) {
          const ev = res.event;
          const p = this.pending;
          if (ev === undefined || p === undefined) continue;
          switch (ev.kind.case) {
            case "output":
              p.ttfd ??= performance.now() - p.t0;
              break;
            case "completed":
              this.pending = undefined;
              p.resolve(p.ttfd === undefined ? {} : { ttfd: p.ttfd });
              break;
            case "failed":
            case "interrupted":
              this.pending = undefined;
              p.reject(new Error(`turn ${ev.kind.case}: ${JSON.stringify(ev.kind.value)}`));
              break;
          }
        }
        throw new Error("the Converse stream ended");
      } catch (e) {
        this.failure = e;
        this.pending?.reject(e);
        this.pending = undefined;
      }
    })();
  }

  /** turn sends one turn and resolves when it completes. */
  turn(turnId: string, text: string): Promise<TurnTiming> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { t0: performance.now(), resolve, reject };
      this.requests.push(create(ConverseRequestSchema, { kind: { case: "turn", value: { turnId, input: { text } } } }));
    });
  }

  close(): void {
    this.requests.end();
    this.abort.abort();
  }
}

/**
 * converseAvailable tells whether a server implements Converse, by running
 * one turn on it: false when it answers UNIMPLEMENTED.
 */
export async function converseAvailable(client: Client<typeof OrchestratorService>, flowId: string, text: string): Promise<boolean> {
  const s = new ConverseSession(client, `probe-${Date.now()}`, flowId);
  try {
    await s.turn("probe-1", text);
    return true;
  } catch (e) {
    if (ConnectError.from(e).code === Code.Unimplemented) return false;
    throw e;
  } finally {
    s.close();
  }
}
