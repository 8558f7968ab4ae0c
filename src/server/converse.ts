import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type InputDelta, InputDeltaSchema } from "../gen/switchboard/v1/agent_pb.js";
import {
  type BargeIn,
  type ConverseInput,
  type ConverseOpen,
  type ConverseRequest,
  type ConverseResponse,
  ConverseResponseSchema,
  type ConverseTurn,
  type OrchestratorService,
  SendTurnView,
  type WatchSessionResponse,
  WatchSessionResponseSchema,
} from "../gen/switchboard/v1/orchestrator_pb.js";
import type { SessionStore } from "../core/ports.js";
import type { TurnRequest } from "../core/turn-request.js";
import { codeName, invalidArgument } from "../core/errors.js";
import { validateId, validateOptionalId } from "../core/ids.js";
import { type Heard, Interruption } from "../core/interruption.js";
import { event, type EventKind } from "../core/session-events.js";
import { EventQueue } from "./event-queue.js";
import { refuseOtherTenants } from "./identity.js";
import { InputChannel } from "./input-channel.js";
import { inputLimits, turnRequest } from "./orchestrator-service.js";
import type { SessionHub } from "./session-hub.js";
import type { Owner } from "./session-subscribers.js";
import type { TurnEntry } from "./turn-entry.js";
import { eventView } from "./turn-view.js";
import { type RelayDeps, RelayedWatch, relayHeader } from "./watch-relay.js";

/**
 * StreamingDeps are what the streaming handlers need.
 */
export interface StreamingDeps {
  /** Streams attach to sessions here; barge-ins and input reach running turns. */
  hub: SessionHub;
  /** The one way into running a turn. */
  entry: TurnEntry;
  store: SessionStore;
  newId: () => string;
  /** Bytes a stream may hold unread (see HubLimits.streamBufferBytes). */
  streamBufferBytes: number;
  /** Tells whether an agent's card declares it takes audio input. */
  acceptsAudio: (agent: string) => Promise<boolean>;
  /** The other replicas on the same store, when there is a replica directory: watches then span them. */
  relay?: Omit<RelayDeps, "hub" | "streamBufferBytes">;
}

/**
 * maxQueuedTurns is how many turns one Converse stream may queue
 * (`enqueue`) behind its running turn.
 */
export const maxQueuedTurns = 16;

/**
 * streamingService implements Converse and WatchSession.
 */
export function streamingService(deps: StreamingDeps): Pick<ServiceImpl<typeof OrchestratorService>, "converse" | "watchSession"> {
  return {
    converse: (requests, ctx) => converse(deps, requests, ctx),
    watchSession: (req, ctx) => watch(deps, req.sessionId, req.afterSeq, ctx),
  };
}

function converse(deps: StreamingDeps, requests: AsyncIterable<ConverseRequest>, ctx: HandlerContext): AsyncIterable<ConverseResponse> {
  const stream = new ConverseStream(deps, ctx);
  void stream.run(requests);
  return stream;
}

async function* watch(
  deps: StreamingDeps,
  sessionId: string,
  afterSeq: bigint | undefined,
  ctx: HandlerContext,
): AsyncGenerator<WatchSessionResponse> {
  validateId("session_id", sessionId);
  if (afterSeq !== undefined && afterSeq < 0n) throw invalidArgument("after_seq", "must not be negative");
  await refuseOtherTenants(deps.store, sessionId, ctx, deps.hub.liveTenant(sessionId));
  const queue = new EventQueue(deps.streamBufferBytes);
  // Another replica relaying its own watcher gets what happens here only.
  const relayed = ctx.requestHeader.has(relayHeader);
  if (deps.relay !== undefined && !relayed) {
    const { hub, streamBufferBytes } = deps;
    const spanning = new RelayedWatch({ ...deps.relay, hub, streamBufferBytes }, sessionId, afterSeq, ctx.requestHeader, queue, ctx.signal);
    spanning.start();
    try {
      for await (const ev of queue) yield create(WatchSessionResponseSchema, { event: ev });
    } finally {
      spanning.close();
    }
    return;
  }
  // The replay fills the queue while this generator drains it.
  void deps.hub.watch(sessionId, queue, afterSeq, ctx.signal, relayed).catch((e: unknown) => queue.fail(ConnectError.from(e)));
  try {
    for await (const ev of queue) yield create(WatchSessionResponseSchema, { event: ev });
  } finally {
    deps.hub.release(sessionId, queue);
  }
}

interface QueuedTurn {
  req: TurnRequest;
  input: InputChannel | undefined;
}

/**
 * ConverseStream is one Converse call: it reads the client's messages,
 * runs the stream's turns one at a time through the hub, and owns the
 * session's event queue; iterated, it is the call's responses, and lets
 * go of the session when they end or are given up.
 *
 * (An iterator object, not an async generator: an idle stream holds its
 * responses' iterator for as long as it is open.)
 */
class ConverseStream implements Owner, AsyncIterable<ConverseResponse>, AsyncIterator<ConverseResponse> {
  readonly queue: EventQueue;
  private sessionId = "";
  private open: ConverseOpen | undefined;
  private readonly pending: QueuedTurn[] = [];
  private current: { controller: AbortController; requestedId: string; turnId: string } | undefined;
  /** The input channel of the last streaming turn this stream started. */
  private inputTarget: InputChannel | undefined;
  private closed = false;
  private idle: (() => void) | undefined;
  /** How much of the session the turns' results on this stream carry (ConverseOpen.view). */
  view: SendTurnView = SendTurnView.UNSPECIFIED;

  constructor(
    private readonly deps: StreamingDeps,
    private readonly ctx: HandlerContext,
  ) {
    this.queue = new EventQueue(deps.streamBufferBytes);
  }

  /** takenOver stops the stream from acting on the session: a newer stream owns it. */
  takenOver(): void {
    this.closed = true;
    this.dropPending();
  }

  /**
   * run reads the client's messages until the client closes its side, then
   * ends the stream once the running and queued turns are done.
   */
  async run(requests: AsyncIterable<ConverseRequest>): Promise<void> {
    try {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done === true || first.value.kind.case !== "open") {
        throw invalidArgument("open", "the first message of a Converse stream must be `open` (with the session_id)");
      }
      await this.handleOpen(first.value.kind.value);
      for (let r = await it.next(); r.done !== true && !this.closed; r = await it.next()) {
        await this.handle(r.value);
      }
      this.inputTarget?.end();
      await this.whenIdle();
      this.queue.end();
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.Aborted && !this.queue.closed) {
        this.queue.push(this.answer("", { case: "takenOver", value: { reason: err.rawMessage } }));
      }
      this.queue.end(err);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ConverseResponse> {
    return this;
  }

  next(): Promise<IteratorResult<ConverseResponse>> {
    return this.queue.next().then(
      (r): IteratorResult<ConverseResponse> => {
        if (r.done === true) {
          this.close();
          return r;
        }
        return { done: false, value: create(ConverseResponseSchema, { event: eventView(r.value, this.view) }) };
      },
      (e: unknown) => {
        this.close();
        throw e;
      },
    );
  }

  return(): Promise<IteratorResult<ConverseResponse>> {
    this.close();
    void this.queue.return();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** close lets go of the session when the call ends; a running turn goes on. */
  close(): void {
    this.closed = true;
    this.dropPending();
    this.inputTarget?.end();
    if (this.sessionId !== "") this.deps.hub.release(this.sessionId, this.queue);
  }

  private async handleOpen(open: ConverseOpen): Promise<void> {
    validateOptionalId("open.session_id", open.sessionId);
    validateOptionalId("open.account_id", open.accountId);
    validateOptionalId("open.flow_id", open.flowId);
    if (open.resumeAfterSeq !== undefined && open.resumeAfterSeq < 0n) {
      throw invalidArgument("open.resume_after_seq", "must not be negative");
    }
    if (open.sessionId !== "") await refuseOtherTenants(this.deps.store, open.sessionId, this.ctx, this.deps.hub.liveTenant(open.sessionId));
    this.open = open;
    this.view = open.view;
    this.sessionId = open.sessionId || this.deps.newId();
    await this.deps.hub.open(this.sessionId, this, open.resumeAfterSeq, this.ctx.signal);
  }

  private async handle(req: ConverseRequest): Promise<void> {
    const kind = req.kind;
    switch (kind.case) {
      case "turn":
        return this.handleTurn(kind.value);
      case "input":
        return this.handleInput(kind.value);
      case "bargeIn":
        return this.handleBargeIn(kind.value);
      case "open":
        return this.reject("", invalidArgument("open", `this stream is already open on session ${this.sessionId}; open another stream for another session`));
      default:
        return this.reject("", invalidArgument("kind", "empty message: set turn, input or barge_in"));
    }
  }

  private handleTurn(turn: ConverseTurn): void {
    let req: TurnRequest;
    try {
      req = turnRequest(
        {
          sessionId: this.sessionId,
          accountId: this.open?.accountId ?? "",
          flowId: this.open?.flowId ?? "",
          turnId: turn.turnId,
          input: turn.input,
        },
        this.ctx,
        turn.inputStreaming,
      );
      if (turn.inputStreaming && turn.enqueue) {
        throw invalidArgument("turn.enqueue", "a turn with streamed input cannot be queued: its input would reach the running turn");
      }
      if (this.pending.length >= maxQueuedTurns) {
        throw new ConnectError(`more than ${maxQueuedTurns} turns are queued on this stream; wait for some to complete`, Code.ResourceExhausted);
      }
    } catch (e) {
      return this.reject(turn.turnId, ConnectError.from(e));
    }
    const input = turn.inputStreaming ? new InputChannel() : undefined;
    if (input !== undefined) {
      this.inputTarget?.end();
      this.inputTarget = input;
    }
    const queued = { req, input };
    if (turn.enqueue || this.current === undefined) {
      this.pending.push(queued);
    } else {
      // A new turn while one runs barges in on it.
      this.current.controller.abort(new Interruption({}));
      this.pending.unshift(queued);
    }
    this.pump();
  }

  private async handleInput(msg: ConverseInput): Promise<void> {
    const target = this.inputTarget && !this.inputTarget.closed ? this.inputTarget : this.deps.hub.running(this.sessionId)?.input;
    if (target === undefined || target.closed) {
      return this.reject("", new ConnectError("no turn takes input now: start a turn with input_streaming, and send its input before `final`", Code.FailedPrecondition));
    }
    if (target.textLength + msg.text.length > inputLimits.textChars) {
      return this.reject("", invalidArgument("input.text", `the turn's input would exceed the limit of ${inputLimits.textChars} characters`));
    }
    await target.push(create(InputDeltaSchema, { text: msg.text, final: msg.final, audio: msg.audio }));
  }

  private async handleBargeIn(msg: BargeIn): Promise<void> {
    try {
      validateOptionalId("barge_in.turn_id", msg.turnId);
      if ((msg.heardChars ?? 0) < 0) throw invalidArgument("barge_in.heard_chars", "must not be negative");
      if ((msg.heardMs ?? 0) < 0) throw invalidArgument("barge_in.heard_ms", "must not be negative");
    } catch (e) {
      return this.reject(msg.turnId, ConnectError.from(e));
    }
    const heard: Heard = {
      ...(msg.heardChars !== undefined ? { chars: msg.heardChars } : {}),
      ...(msg.heardMs !== undefined ? { ms: msg.heardMs } : {}),
    };
    const mine = this.current;
    if (mine !== undefined && (msg.turnId === "" || msg.turnId === mine.turnId || msg.turnId === mine.requestedId)) {
      mine.controller.abort(new Interruption(heard));
      return;
    }
    try {
      const outcome = await this.deps.hub.bargeIn(this.sessionId, msg.turnId, heard);
      if (typeof outcome === "object") this.reject(msg.turnId, outcome.rejected);
    } catch (e) {
      // Amending the transcript failed (the store, a concurrent commit):
      // the stream goes on.
      this.reject(msg.turnId, ConnectError.from(e));
    }
  }

  private pump(): void {
    if (this.current !== undefined) return;
    const next = this.closed ? undefined : this.pending.shift();
    if (next === undefined) {
      this.idle?.();
      return;
    }
    const controller = new AbortController();
    this.current = { controller, requestedId: next.req.turnId, turnId: next.req.turnId };
    void this.runTurn(next, controller).finally(() => {
      this.current = undefined;
      this.pump();
    });
  }

  private async runTurn({ req, input }: QueuedTurn, controller: AbortController): Promise<void> {
    // The client sees output as it streams: once it did, the turn cannot
    // run again after losing a race.
    const turn: TurnRequest = {
      ...req,
      rerun: "before-output",
      ...(input !== undefined ? { inputStream: this.withAudioCheck(input, req.turnId) } : {}),
    };
    const end = await this.deps.entry.run(turn, {
      ctx: this.ctx,
      signal: controller.signal,
      deadline: undefined,
      streams: {
        ...(input !== undefined ? { input } : {}),
        onBegin: (live) => {
          if (this.current !== undefined) this.current.turnId = live.turnId;
        },
      },
      whenDraining: "reconnect to another replica with resume_after_seq",
    });
    // The turn's own events reached the stream through the hub; what is
    // left are answers that are not part of the session's history.
    if ("result" in end) {
      if (end.result.replayed) this.queue.push(this.answer(end.result.turnId, { case: "completed", value: { result: end.result } }));
    } else if (!end.begun) {
      input?.end();
      this.queue.push(this.answer(req.turnId, failed(end.error)));
    }
  }

  /**
   * withAudioCheck passes input through, stripping audio for an agent whose
   * card does not declare `accepts_audio` (and saying so once).
   */
  private async *withAudioCheck(input: InputChannel, turnId: string): AsyncGenerator<InputDelta> {
    let accepts: boolean | undefined;
    for await (const delta of input) {
      if (delta.audio.byteLength === 0) {
        yield delta;
        continue;
      }
      const agent = this.deps.hub.running(this.sessionId)?.agent ?? "";
      if (accepts === undefined) {
        accepts = await this.deps.acceptsAudio(agent);
        if (!accepts) {
          this.reject(turnId, new ConnectError(`agent ${agent} does not accept audio (its card does not set accepts_audio); audio input is not forwarded`, Code.FailedPrecondition));
        }
      }
      if (accepts) yield delta;
      else if (delta.text !== "" || delta.final) yield { ...delta, audio: new Uint8Array() };
    }
  }

  private whenIdle(): Promise<void> {
    if (this.current === undefined && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  private dropPending(): void {
    for (const p of this.pending.splice(0)) p.input?.end();
  }

  private reject(turnId: string, err: ConnectError): void {
    this.queue.push(this.answer(turnId, { case: "rejected", value: { code: codeName(err.code), message: err.rawMessage } }));
  }

  private answer(turnId: string, kind: EventKind) {
    return event({ sessionId: this.sessionId, turnId }, 0n, kind);
  }
}

function failed(err: ConnectError): EventKind {
  return { case: "failed", value: { code: codeName(err.code), message: err.rawMessage } };
}
