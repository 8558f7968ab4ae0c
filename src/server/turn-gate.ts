import type { HandlerContext } from "@connectrpc/connect";
import type { SendTurnResponse } from "../gen/switchboard/v1/orchestrator_pb.js";
import type { TurnRequest } from "../core/engine.js";
import { limitKeyOf } from "./identity.js";
import type { TurnRateLimit } from "./limits.js";
import { traceTurn } from "./tracing.js";

/**
 * TurnWrapper runs around one turn. Every API that runs turns (SendTurn,
 * and each turn of a Converse stream) calls it, so limits and tracing
 * apply the same way to all of them.
 */
export type TurnWrapper = (
  turn: TurnRequest,
  ctx: Pick<HandlerContext, "values" | "requestHeader">,
  run: () => Promise<SendTurnResponse>,
) => Promise<SendTurnResponse>;

/**
 * turnGate returns the TurnWrapper that charges the caller's turn rate and
 * runs the turn as a span continuing the caller's trace.
 */
export function turnGate(rate: TurnRateLimit): TurnWrapper {
  return async (turn, ctx, run) => {
    rate.take(limitKeyOf(ctx.values));
    const attributes: Record<string, string> = { "switchboard.session_id": turn.sessionId };
    if (turn.turnId !== "") attributes["switchboard.turn_id"] = turn.turnId;
    return traceTurn(ctx.requestHeader, attributes, async (span) => {
      const res = await run();
      span.setAttributes({
        "switchboard.session_id": res.sessionId,
        "switchboard.turn_id": res.turnId,
        "switchboard.agent": res.agent,
        "switchboard.stage": res.stageCompleted,
        "switchboard.flow": res.session?.flowId ?? "",
      });
      return res;
    }, turn);
  };
}
