import type { HandlerContext } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { unavailable } from "../core/errors.js";
import type { TurnRequest } from "../core/turn-request.js";
import { limitKeyOf } from "./identity.js";
import type { InFlight } from "./in-flight.js";
import type { TurnRateLimit } from "./limits.js";
import type { SessionHub, TurnEnd, TurnStreams } from "./session-hub.js";
import type { TurnAdmission } from "./turn-admission.js";
import { traceTurn } from "./tracing.js";

/**
 * TurnEntryDeps are what the turn entry needs.
 */
export interface TurnEntryDeps {
  hub: SessionHub;
  inFlight: InFlight;
  /** The per-token turn rate; unlimited when omitted. */
  rate?: TurnRateLimit;
  /** The replica's admission limit (turns in flight, loop delay); unlimited when omitted. */
  admission?: TurnAdmission;
}

/**
 * EntryCall is how an API hands a turn to the entry: the caller's context
 * (identity, trace headers), its cancellation and deadline, what it
 * attaches to stream the turn, and where its client goes when this
 * replica is draining.
 */
export interface EntryCall {
  ctx: Pick<HandlerContext, "values" | "requestHeader">;
  signal: AbortSignal;
  /** The absolute time (ms since epoch) by which the caller wants an answer. */
  deadline: number | undefined;
  streams?: TurnStreams;
  /** What a refused client should do while this replica drains, e.g. "send the turn to another replica". */
  whenDraining: string;
}

/**
 * TurnEntry is the one way into running a turn, for every API that runs
 * turns (SendTurn, each turn of a Converse stream): it refuses turns while
 * the server drains or is overloaded (never failing running ones), charges
 * the caller's turn rate, runs the turn as a
 * span continuing the caller's trace (so the turn's log line carries the
 * trace id, tenant and account), and hands it to the hub and the engine.
 * A refused turn ends as an error that never began.
 */
export class TurnEntry {
  constructor(private readonly deps: TurnEntryDeps) {}

  async run(turn: TurnRequest, call: EntryCall): Promise<TurnEnd> {
    const done = this.deps.inFlight.begin();
    if (done === undefined) {
      return { error: unavailable(`the orchestrator is shutting down and takes no new turns; ${call.whenDraining}`), begun: false };
    }
    try {
      // Refused before the rate is charged: an overloaded replica costs the caller nothing.
      this.deps.admission?.admit(this.deps.inFlight.size);
      this.deps.rate?.take(limitKeyOf(call.ctx.values));
      const attributes: Record<string, string> = { "switchboard.session_id": turn.sessionId };
      if (turn.turnId !== "") attributes["switchboard.turn_id"] = turn.turnId;
      return await traceTurn(
        call.ctx.requestHeader,
        attributes,
        async (span) => {
          const end = await this.deps.hub.runTurn(turn, call.signal, call.deadline, call.streams);
          if ("result" in end) {
            const res = end.result;
            span.setAttributes({
              "switchboard.session_id": res.sessionId,
              "switchboard.turn_id": res.turnId,
              "switchboard.agent": res.agent,
              "switchboard.stage": res.stageCompleted,
              "switchboard.flow": res.session?.flowId ?? "",
            });
          }
          return end;
        },
        turn,
        (end) => ("error" in end ? end.error : undefined),
      );
    } catch (e) {
      return { error: ConnectError.from(e), begun: false };
    } finally {
      done();
    }
  }
}
