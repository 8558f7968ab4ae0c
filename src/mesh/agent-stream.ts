import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type HandleTurnRequest, HandleTurnRequestSchema } from "../gen/switchboard/v1/agent_pb.js";
import type { AgentResult } from "../gen/switchboard/v1/turn_pb.js";
import { mark } from "../core/errors.js";
import type { AgentCall } from "../core/ports.js";
import { excuseAsLate } from "./breaker.js";
import type { Connection } from "./connection-pool.js";
import { isConnectionFailure } from "./connection-pool.js";
import type { LoopDelay } from "./loop-delay.js";

/**
 * StreamProgress is what a turn's agent stream delivered so far, across its
 * attempts.
 */
export interface StreamProgress {
  /** True once any output reached the caller: from then on, no retry. */
  readonly delivered: boolean;
  /**
   * deliver records a piece of output text just before it goes to the
   * caller: the turn is committed to this attempt from then on.
   */
  deliver(text: string): void;
}

/**
 * streamTurn runs one attempt of a turn on one instance: it opens a
 * HandleTurn stream, sends the turn's start (with the attempt number and
 * the remaining budget), forwards output deltas as they arrive and returns
 * the agent's result. The call's deadline (grpc-timeout) is `timeoutMs`;
 * when it passes or the caller's signal aborts, the stream is cancelled at
 * once. Failures are ConnectErrors naming the agent and instance; those that
 * may succeed elsewhere (connection failures and UNAVAILABLE before any
 * output) are marked retryable. A deadline that passed while this
 * process's event loop stalled (`loop`) is excused as late: it fails the
 * call but counts against no instance.
 */
export async function streamTurn(
  conn: Connection,
  endpoint: string,
  call: AgentCall,
  attempt: number,
  timeoutMs: number,
  progress: StreamProgress,
  loop: LoopDelay,
): Promise<AgentResult> {
  // The request side stays open until the agent answers, so the agent can
  // be sent more input or a cancel while it works.
  // A plain promise, not an AbortController: aborting one builds a
  // DOMException with a stack on every call, for a reason nobody reads.
  let done!: () => void;
  const ended = new Promise<undefined>((resolve) => {
    done = () => resolve(undefined);
  });
  // grpc-timeout takes whole units.
  timeoutMs = Math.max(1, Math.floor(timeoutMs));
  const start = { ...call.start, attempt, budget: durationFromMs(timeoutMs) };
  const requests = async function* (): AsyncGenerator<HandleTurnRequest> {
    yield create(HandleTurnRequestSchema, { kind: { case: "start", value: start } });
    // Streamed user input follows the start as it arrives.
    if (call.input !== undefined) {
      const input = call.input[Symbol.asyncIterator]();
      for (let next = await Promise.race([input.next(), ended]); next !== undefined && next.done !== true; next = await Promise.race([input.next(), ended])) {
        yield create(HandleTurnRequestSchema, { kind: { case: "input", value: next.value } });
      }
      void input.return?.();
    }
    await ended;
  };
  let result: AgentResult | undefined;
  const t0 = performance.now();
  try {
    // Read to the end of the stream, past the result (the agent ends it
    // there): only then does Connect's client stop the call's deadline
    // timer, which otherwise holds the whole call, its request included,
    // in memory for the rest of the budget.
    for await (const res of conn.agent.handleTurn(requests(), { signal: call.signal, timeoutMs })) {
      if (result !== undefined) continue;
      if (res.kind.case === "delta") {
        progress.deliver(res.kind.value.text);
        // A slow caller paces the agent: no more output is read until the
        // caller's side took this piece.
        const paced = call.onDelta(res.kind.value);
        if (paced !== undefined) await paced;
      } else if (res.kind.case === "result") {
        result = res.kind.value;
        // The request side ends with the answer, as the agent expects.
        done();
      }
    }
  } catch (e) {
    // An agent that gave its result and then failed to end the stream
    // cleanly has still answered.
    if (result !== undefined) return result;
    // When the deadline passes, the agent's side may report its own
    // cancellation before the local deadline fires: both mean the budget ran out.
    const expired = performance.now() - t0 >= timeoutMs - 5;
    const err = attemptError(call, endpoint, e, progress.delivered, expired);
    if (err.code === Code.DeadlineExceeded && loop.stalledSince(t0)) excuseAsLate(err);
    throw err;
  } finally {
    done();
  }
  if (result === undefined) {
    throw new ConnectError(`agent ${call.agent} at ${endpoint} closed the turn's stream without a result`, Code.Internal);
  }
  return result;
}

/**
 * attemptError turns a failed attempt on an instance into the error the
 * attempt fails with: the caller's cancellation or deadline, the attempt's
 * deadline (`expired`), a lost instance (UNAVAILABLE, retryable unless
 * output was delivered), or the agent's own error, each naming the agent and
 * the instance (`endpoint`).
 */
export function attemptError(call: AgentCall, endpoint: string, e: unknown, delivered: boolean, expired: boolean): ConnectError {
  const err = ConnectError.from(e);
  const who = `agent ${call.agent} at ${endpoint}`;
  const after = delivered ? " after it had sent output; the turn was not retried because that output had already reached the caller" : "";
  if (call.signal.aborted) {
    // The caller's own deadline may fire a moment before the call's: that
    // is the turn running out of time, not a cancellation.
    const reason: unknown = call.signal.reason;
    if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) {
      return new ConnectError(`${who} did not finish within ${Math.round(call.timeoutMs)}ms`, Code.DeadlineExceeded, undefined, undefined, err);
    }
    return new ConnectError(`the turn was cancelled while ${who} was working`, Code.Canceled, undefined, undefined, err);
  }
  if (err.code === Code.DeadlineExceeded || (expired && (err.code === Code.Canceled || err.code === Code.Unavailable))) {
    // The turn's whole budget is what the caller knows, not what was left of it for this attempt.
    return new ConnectError(`${who} did not finish within ${Math.round(call.timeoutMs)}ms`, Code.DeadlineExceeded, undefined, undefined, err);
  }
  // A connection that broke, or a stream the agent's side reset (a crashed
  // process shows as a cancelled HTTP/2 stream), is the instance becoming
  // unavailable, not a cancellation by the caller.
  const lost = isConnectionFailure(err) || err.code === Code.Canceled;
  if (lost || err.code === Code.Unavailable) {
    const what = lost && !isConnectionFailure(err) ? `broke off the turn's stream (${err.rawMessage})` : `is unavailable: ${err.rawMessage}`;
    const mapped = new ConnectError(`${who} ${what}${after}`, Code.Unavailable, undefined, undefined, err);
    return delivered ? mapped : mark(mapped, "retryable");
  }
  return new ConnectError(`${who} failed: ${err.rawMessage}${after}`, err.code, undefined, undefined, err);
}
