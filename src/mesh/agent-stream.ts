import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type HandleTurnRequest, HandleTurnRequestSchema, type HandleTurnResponse } from "../gen/switchboard/v1/agent_pb.js";
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
  if (call.signal.aborted) throw attemptError(call, endpoint, call.signal.reason, false, false);
  // The request side stays open until the agent answers, so the agent can
  // be sent more input or a cancel while it works.
  // A plain promise, not an AbortController: aborting one builds a
  // DOMException with a stack on every call, for a reason nobody reads.
  let done!: () => void;
  const ended = new Promise<undefined>((resolve) => {
    done = () => resolve(undefined);
  });
  // Why the turn was cancelled, once it was: the request side says so
  // (CancelTurn) before it ends.
  let cancelled: string | undefined;
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
    if (cancelled !== undefined) yield create(HandleTurnRequestSchema, { kind: { case: "cancel", value: { reason: cancelled } } });
  };
  // A cancelled turn (a barge-in, the caller's deadline) tells the agent in
  // the stream and stops waiting for it at once; the stream itself is
  // reset only when the agent has not ended it within cancelGraceMs (the
  // conformance suite's limit). Resetting every cancelled call would count
  // against the agent's HTTP/2 server's guard against "rapid reset" floods
  // (Node's nghttp2: 1000 resets per connection in a burst, then 33 a
  // second), past which it drops the connection and every call on it.
  const wind = new AbortController();
  // What the turn waits for (a reply, the caller taking a delta) fails at
  // once when the turn is cancelled. (One promise per wait: a race against
  // one long-lived promise would keep every reply in its reactions.)
  let interrupt: ((reason: unknown) => void) | undefined;
  const unlessCancelled = <T>(p: Promise<T>): Promise<T> => {
    if (cancelled !== undefined) return Promise.reject(call.signal.reason);
    return new Promise<T>((resolve, reject) => {
      interrupt = reject;
      p.then(resolve, reject);
    });
  };
  const onCancel = () => {
    cancelled = ConnectError.from(call.signal.reason, Code.Canceled).rawMessage;
    done();
    interrupt?.(call.signal.reason);
  };
  call.signal.addEventListener("abort", onCancel, { once: true });
  const replies = conn.agent.handleTurn(requests(), { signal: wind.signal, timeoutMs })[Symbol.asyncIterator]();
  // The read the loop waits for, when it stopped waiting at a cancel.
  let pending: Promise<IteratorResult<HandleTurnResponse>> | undefined;
  let result: AgentResult | undefined;
  const t0 = performance.now();
  try {
    // Read to the end of the stream, past the result (the agent ends it
    // there): only then does Connect's client stop the call's deadline
    // timer, which otherwise holds the whole call, its request included,
    // in memory for the rest of the budget.
    for (;;) {
      pending = replies.next();
      const next = await unlessCancelled(pending);
      pending = undefined;
      if (next.done === true) break;
      const res = next.value;
      if (result !== undefined) continue;
      if (res.kind.case === "delta") {
        progress.deliver(res.kind.value.text);
        // A slow caller paces the agent: no more output is read until the
        // caller's side took this piece.
        const paced = call.onDelta(res.kind.value);
        if (paced !== undefined) await unlessCancelled(paced);
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
    call.signal.removeEventListener("abort", onCancel);
    done();
    if (cancelled !== undefined) void windDown(replies, pending, wind, call.signal.reason);
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

/**
 * cancelGraceMs is how long a cancelled turn's agent has to end its stream
 * after CancelTurn before the stream is reset.
 */
export const cancelGraceMs = 1000;

/**
 * windDown reads what is left of a cancelled call's replies (from the read
 * the turn stopped waiting for, if any) and drops it, so the stream ends
 * and Connect's client lets go of the call; it resets the stream (aborts
 * `wind`) if that takes longer than cancelGraceMs.
 */
async function windDown(
  replies: AsyncIterator<HandleTurnResponse>,
  pending: Promise<IteratorResult<HandleTurnResponse>> | undefined,
  wind: AbortController,
  reason: unknown,
): Promise<void> {
  const grace = setTimeout(() => wind.abort(reason), cancelGraceMs);
  grace.unref();
  try {
    for (let r = await (pending ?? replies.next()); r.done !== true; r = await replies.next()) {
      // Dropped: the turn is over.
    }
  } catch {
    // The agent ended the cancelled call with CANCELLED, or the reset did.
  } finally {
    clearTimeout(grace);
  }
}
